#!/usr/bin/env python3
"""Independent Python reference for weft's tokenize stages, with a fake char-level tokenizer.

Reimplements, from xtuner's documented behaviour (not weft's code): the dataset readers
(ftdp / openai / alpaca / conversation / pretrain), openai_map_fn, alpaca_map_fn,
pretrain_map_fn, template_map_fn and encode_fn. The tokenizer maps each code point c to
ord(c) + 10; BOS is [1] and EOS is [2] (pass --no-bos for a Qwen-like tokenizer without BOS).

Usage:
  xtuner_encode.py FORMAT FILE MAX_LENGTH TEMPLATE[,TEMPLATE...] [--no-bos] [--offline] [--zero C]
--zero C: the character C encodes to token 0 (Qwen's "!" is token 0): encode_fn labels a trained
token with itself, so a trained token 0 has label 0, and `label >= 0` counts it as trainable.
--offline: also apply the filter of xtuner's offline job (`process` in xtuner/dataset/huggingface.py,
which process_untokenized_datasets / load_intern_repo_untokenized_dataset run): after encode_fn has
truncated to max_length, samples with no `label >= 0` are removed ({"dropped": "no-trainable-token"}).
Message keys are filled file-wide as xtuner's pipeline sees them (ftdp/openai): xtuner builds one HF
`datasets` Dataset per file (`Dataset.from_list` in load_intern_repo_untokenized_dataset, or
`load_dataset('json')`), and Arrow gives the messages one struct type, the union of every message's keys,
so a key that some message of the file has (`loss`) is present with the value None on every other
message. `fill_missing_keys` reproduces that behaviour of `datasets` here (it does not call `datasets`);
openai_map_fn then reads `str(None).lower() == "true"`: False, so such a reply is not trained.
Prints one JSON object: {template: [{"input_ids": [...], "labels": [...]} | {"dropped": reason}, ...]}.
"""
import json
import sys

IGNORE_INDEX = -100

# xtuner/utils/templates.py PROMPT_TEMPLATE, transcribed by hand (keys absent there are absent here).
_LLAMA2_SYS = ('[INST] <<SYS>>\n You are a helpful, respectful and honest '
               'assistant. Always answer as helpfully as possible, while being '
               'safe. Your answers should not include any harmful, unethical, '
               'racist, sexist, toxic, dangerous, or illegal content. Please '
               'ensure that your responses are socially unbiased and positive in '
               'nature.\n{system}\n<</SYS>>\n [/INST] ')
_VICUNA_SYS = ('A chat between a curious user and an artificial '
               'intelligence assistant. The assistant gives '
               'helpful, detailed, and polite answers to the '
               'user\'s questions. {system}\n ')
_DSC_SYS = ('You are an AI programming assistant, utilizing '
            'the DeepSeek Coder model, developed by DeepSeek'
            'Company, and you only answer questions related '
            'to computer science. For politically sensitive '
            'questions, security and privacy issues, and '
            'other non-computer science questions, you will '
            'refuse to answer. {system}\n')
PROMPT_TEMPLATE = dict(
    default=dict(SYSTEM='<|System|>:{system}\n', INSTRUCTION='<|User|>:{input}\n<|Bot|>:', SEP='\n'),
    zephyr=dict(SYSTEM='<|system|>\n{system}\n', INSTRUCTION='<|user|>\n{input}\n<|assistant|>\n', SEP='\n'),
    internlm_chat=dict(SYSTEM='<|System|>:{system}\n', INSTRUCTION='<|User|>:{input}<eoh>\n<|Bot|>:',
                       SUFFIX='<eoa>', SUFFIX_AS_EOS=True, SEP='\n', STOP_WORDS=['<eoa>']),
    internlm2_chat=dict(SYSTEM='<|im_start|>system\n{system}<|im_end|>\n',
                        INSTRUCTION='<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
                        SUFFIX='<|im_end|>', SUFFIX_AS_EOS=True, SEP='\n', STOP_WORDS=['<|im_end|>']),
    moss_sft=dict(SYSTEM='{system}\n', INSTRUCTION='<|Human|>: {input}<eoh>\n', SEP='\n', STOP_WORDS=['<eoc>', '<eom>']),
    llama2_chat=dict(SYSTEM=_LLAMA2_SYS, INSTRUCTION='[INST] {input} [/INST]', SEP='\n'),
    code_llama_chat=dict(SYSTEM='{system}\n', INSTRUCTION='[INST] {input} [/INST]'),
    chatglm2=dict(SYSTEM='{system}\n', INSTRUCTION='[Round {round}]\n\n问：{input}\n\n答：', SEP='\n\n'),
    chatglm3=dict(SYSTEM='<|system|>\n{system}', INSTRUCTION='<|user|>\n{input}<|assistant|>\n', SEP='\n'),
    qwen_chat=dict(SYSTEM='<|im_start|>system\n{system}<|im_end|>\n',
                   INSTRUCTION='<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
                   SUFFIX='<|im_end|>', SUFFIX_AS_EOS=True, SEP='\n', STOP_WORDS=['<|im_end|>', '<|endoftext|>']),
    baichuan_chat=dict(SYSTEM='{system}\n', INSTRUCTION='<reserved_102>{input}<reserved_103>', SEP='\n'),
    baichuan2_chat=dict(SYSTEM='{system}\n', INSTRUCTION='<reserved_106>{input}<reserved_107>', SEP='\n'),
    wizardlm=dict(SYSTEM=_VICUNA_SYS, INSTRUCTION='USER: {input} ASSISTANT:', SEP='\n'),
    wizardcoder=dict(SYSTEM=('Below is an instruction that describes a task. '
                             'Write a response that appropriately completes the request.\n\n{system}\n '),
                     INSTRUCTION='### Instruction:\n{input}\n\n### Response:', SEP='\n\n'),
    vicuna=dict(SYSTEM=_VICUNA_SYS, INSTRUCTION='USER: {input} ASSISTANT:', SEP='\n'),
    deepseek_coder=dict(SYSTEM=_DSC_SYS, INSTRUCTION='### Instruction:\n{input}\n### Response:\n', SEP='\n'),
    deepseekcoder=dict(SYSTEM=_DSC_SYS, INSTRUCTION='### Instruction:\n{input}\n### Response:\n', SEP='\n'),
    deepseek_moe=dict(SYSTEM='[INST] {system} [/INST]\n', INSTRUCTION='[INST] {input} [/INST]', SEP='\n'),
    deepseek_v2=dict(SYSTEM='{system}\n\n', INSTRUCTION='User: {input}\n\nAssistant: ',
                     SUFFIX='<｜end▁of▁sentence｜>', SUFFIX_AS_EOS=True, STOP_WORDS=['<｜end▁of▁sentence｜>']),
    mistral=dict(SYSTEM='[INST] {system} [/INST]\n', INSTRUCTION='[INST] {input} [/INST]', SEP='\n'),
    mixtral=dict(SYSTEM='[INST] {system} [/INST]\n', INSTRUCTION='[INST] {input} [/INST]', SEP='\n'),
    minicpm=dict(INSTRUCTION='<用户> {input} <AI>', SEP='\n'),
    minicpm3=dict(SYSTEM='<|im_start|>system\n{system}<|im_end|>\n',
                  INSTRUCTION='<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
                  SUFFIX='<|im_end|>', SUFFIX_AS_EOS=True, SEP='\n', STOP_WORDS=['<|im_end|>', '<|endoftext|>']),
    gemma=dict(SYSTEM='<start_of_turn>system\n{system}<end_of_turn>\n',
               INSTRUCTION='<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n',
               SUFFIX='<end_of_turn>', SUFFIX_AS_EOS=False, SEP='\n', STOP_WORDS=['<end_of_turn>']),
    cohere_chat=dict(SYSTEM='<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{system}<|END_OF_TURN_TOKEN|>',
                     INSTRUCTION=('<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{input}<|END_OF_TURN_TOKEN|>'
                                  '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'),
                     SUFFIX='<|END_OF_TURN_TOKEN|>', SUFFIX_AS_EOS=True, STOP_WORDS=['<|END_OF_TURN_TOKEN|>']),
    llama3_chat=dict(SYSTEM='<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>',
                     INSTRUCTION=('<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|>'
                                  '<|start_header_id|>assistant<|end_header_id|>\n\n'),
                     SUFFIX='<|eot_id|>', SUFFIX_AS_EOS=True, STOP_WORDS=['<|eot_id|>']),
    phi3_chat=dict(SYSTEM='<|system|>\n{system}<|end|>\n', INSTRUCTION='<|user|>\n{input}<|end|>\n<|assistant|>\n',
                   SUFFIX='<|end|>', SUFFIX_AS_EOS=True, SEP='\n', STOP_WORDS=['<|end|>']),
)

class CharTokenizer:
    def __init__(self, bos, zero=None):
        self.bos = bos
        self.zero = zero

    def encode(self, text, add_special_tokens=False):
        assert add_special_tokens is False
        return [0 if c == self.zero else ord(c) + 10 for c in text]


def read_records(fmt, path):
    if fmt != 'ftdp' and path.endswith('.json'):
        with open(path, encoding='utf-8') as f:
            yield from json.load(f)
        return
    with open(path, encoding='utf-8', newline='\n') as f:
        for line in f:
            if line.strip() == '':
                continue
            if fmt == 'pretrain' and path.endswith('.txt'):
                yield {'text': line[:-1] if line.endswith('\n') else line}
            else:
                yield json.loads(line)


def fill_missing_keys(fmt, records, keys=None):
    """What HF datasets does to a file's messages: every message gets every key any message has, None if absent.
    `keys`: the file's message keys when `records` is only part of the file (default: found in `records`)."""
    if fmt not in ('ftdp', 'openai'):
        return records
    lists = [rec if fmt == 'ftdp' else rec['messages'] for rec in records]
    if keys is None:
        keys = []
        for msgs in lists:
            for m in msgs:
                keys += [k for k in m if k not in keys]
    for msgs in lists:
        for m in msgs:
            for k in keys:
                m.setdefault(k, None)
    return records


def openai_map_fn(messages):
    system, inp, conversation = '', '', []
    while messages and messages[0]['role'] == 'assistant':
        messages = messages[1:]
    for msg in messages:
        if msg['role'] == 'system':
            system = msg['content']
        elif msg['role'] == 'user':
            inp += msg['content']
        elif msg['role'] == 'assistant':
            # xtuner's openai_map_fn: str(msg.get("loss", "True")).lower() == "true"; a None
            # (filled in by fill_missing_keys) reads "none": not trained.
            loss = str(msg.get('loss', 'True')).lower() == 'true'
            conversation.append({'system': system, 'input': inp, 'output': msg['content'], 'output_with_loss': loss})
            system, inp = '', ''
        else:
            raise NotImplementedError(msg['role'])
    return conversation


def to_conversation(fmt, rec):
    """Returns (conversation, use_template) or None for a record with nothing to train on."""
    if fmt == 'ftdp':
        return openai_map_fn(rec), True
    if fmt == 'openai':
        return openai_map_fn(rec['messages']), True
    if fmt == 'conversation':
        msgs = []
        for t in rec['conversation']:
            if t.get('system', ''):
                msgs.append({'role': 'system', 'content': t['system']})
            msgs.append({'role': 'user', 'content': t.get('input', '') or ''})
            m = {'role': 'assistant', 'content': t['output']}
            if 'loss' in t:
                m['loss'] = t['loss']
            msgs.append(m)
        return openai_map_fn(msgs), True
    if fmt == 'alpaca':
        if rec.get('output') == '<nooutput>':
            return None
        # xtuner's alpaca_map_fn has no system message since v0.1.14 (commit e53b55e, "[Fix] Remove
        # `system` for `alpaca_map_fn`", #363; unchanged in v0.2.0): one turn, input = instruction
        # + "\n" + input.
        return [{'input': f"{rec['instruction']}\n{rec.get('input', '')}", 'output': rec['output']}], True
    if fmt == 'pretrain':
        return [{'input': '', 'output': rec['text'].strip(), 'need_eos_token': False}], False
    raise ValueError(fmt)


def template_map_fn(conversation, template):
    for i, turn in enumerate(conversation):
        inp = turn.get('input', '')
        if inp is None:
            inp = ''
        input_text = template['INSTRUCTION'].format(input=inp, round=i + 1)
        system = turn.get('system', '')
        if system != '' and system is not None:
            input_text = template['SYSTEM'].format(system=system) + input_text
        turn['input'] = input_text
        if template.get('SUFFIX', None):
            turn['output'] = turn.get('output', '') + template['SUFFIX']
        turn['need_eos_token'] = not template.get('SUFFIX_AS_EOS', False)
        turn['sep'] = template.get('SEP', '')
    return conversation


def encode_fn(conversation, tokenizer, max_length, bos, eos):
    input_ids, labels = [], []
    next_needs_bos_token = True
    for turn in conversation:
        input_encode = tokenizer.encode(turn['input'], add_special_tokens=False)
        if next_needs_bos_token:
            input_ids += bos
            labels += [IGNORE_INDEX] * len(bos)
        input_ids += input_encode
        labels += [IGNORE_INDEX] * len(input_encode)
        with_loss = turn.get('output_with_loss', True)
        output_encode = tokenizer.encode(turn['output'], add_special_tokens=False)
        input_ids += output_encode
        labels += list(output_encode) if with_loss else [IGNORE_INDEX] * len(output_encode)
        if turn.get('need_eos_token', True):
            next_needs_bos_token = True
            input_ids += eos
            labels += list(eos) if with_loss else [IGNORE_INDEX] * len(eos)
        else:
            next_needs_bos_token = False
        sep = turn.get('sep', '')
        if sep != '':
            sep_encode = tokenizer.encode(sep, add_special_tokens=False)
            input_ids += sep_encode
            labels += [IGNORE_INDEX] * len(sep_encode)
    if len(input_ids) > max_length:
        input_ids = input_ids[:max_length]
        labels = labels[:max_length]
    return {'input_ids': input_ids, 'labels': labels}


def main():
    fmt, path, max_length, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(',')
    bos = [] if '--no-bos' in sys.argv else [1]
    offline = '--offline' in sys.argv
    eos = [2]
    zero = sys.argv[sys.argv.index('--zero') + 1] if '--zero' in sys.argv else None
    tok = CharTokenizer(bos, zero)
    out = {}
    for name in names:
        samples = []
        for rec in fill_missing_keys(fmt, list(read_records(fmt, path))):
            conv = to_conversation(fmt, rec)
            if conv is None:
                samples.append({'dropped': 'no-output'})
                continue
            conversation, use_template = conv
            if not conversation:
                samples.append({'dropped': 'empty-conversation'})
                continue
            if use_template:
                conversation = template_map_fn(conversation, PROMPT_TEMPLATE[name])
            s = encode_fn(conversation, tok, max_length, bos, eos)
            if not s['input_ids']:
                samples.append({'dropped': 'empty'})
            elif offline and not any(label >= 0 for label in s['labels']):
                # huggingface.py process(): dataset.filter(lambda example: any(label >= 0 for label
                # in example['labels'])), after tokenize_dataset (encode_fn truncates), before packing.
                samples.append({'dropped': 'no-trainable-token'})
            else:
                samples.append(s)
        out[name] = samples
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == '__main__':
    main()
