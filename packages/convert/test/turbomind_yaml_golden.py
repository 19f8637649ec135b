#!/usr/bin/env python3
"""Expected `yaml.safe_dump` output (PyYAML) for the value shapes Turbomind's config.yaml uses.
Writes fixtures/turbomind/yaml-cases.json: [{input, expected}], floats in input as {"float": x}."""
import json
import os

import yaml

STRINGS = ['internlm2-chat-7b', 'tiny-llama', '', 'yes', 'No', 'on', 'null', '~', '1.0', '12', '0x1F', '1e5', '1.0e+5',
           '2024-01-01', 'a: b', 'a:b', ':a', 'a:', '#x', 'x #y', 'x#y', '-', '- a', '-a', '?', '? a', '?a', '@a', '`a',
           "it's", '"q"', '---x', '...x', 'a b', ' a', 'a ', '[x]', 'x[0]', 'a,b', '{a}', '%x', '&x', '*x', '!x', '|x',
           '>x', 'qwen2.5-7b-instruct', 'Llama-3.1-8B', '<<', '=', '.inf', '.nan', 'base', 'greedy', 'float16', 'hf', '1_000',
           '+1', '-1', '0o17', '0b101', '1:30', '.5', '5.']
FLOATS = [1e-06, 1e-05, 1e-5, 0.0001, 1e-4, 1e-7, 10000.0, 1000000.0, 500000.0, 0.5, 1.0, 0.0, 1e16, 1.5e16, 123456789012345.6,
          1e22, 0.1, 3.141592653589793, 5e-324, 1.7976931348623157e308, -2.5e-07, 2.0 ** 60, 1e15, 9.999999999999999e15,
          -0.0, 6.103515625e-05, 1e100, 1.2e-10]


def main():
    cases = []
    for s in STRINGS:
        cases.append({'input': {'model_config': {'model_name': s}}, 'expected': yaml.safe_dump({'model_config': {'model_name': s}})})
    for x in FLOATS:
        cases.append({'input': {'a': {'float': x}}, 'expected': yaml.safe_dump({'a': x})})
    nested = {'z': {'b': [1, 2, 3], 'a': [], 'c': {'y': None, 'x': True, 'w': False}, 'd': 0}, 'a': 7}
    cases.append({'input': nested, 'expected': yaml.safe_dump(nested)})
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, 'fixtures', 'turbomind', 'yaml-cases.json'), 'w') as f:
        json.dump({'pyyaml': yaml.__version__, 'cases': cases}, f, indent=1)


if __name__ == '__main__':
    main()
