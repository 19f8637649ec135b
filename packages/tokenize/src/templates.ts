/**
 * xtuner's PROMPT_TEMPLATE entries (`xtuner/utils/templates.py`), as data. Field names follow the
 * Python dict keys; an absent key means what `template.get(KEY)` gives there (no SUFFIX, no SEP,
 * SUFFIX_AS_EOS false). `{system}`, `{input}` and `{round}` are Python `str.format` fields.
 */
export interface PromptTemplate {
  SYSTEM?: string;
  INSTRUCTION: string;
  SUFFIX?: string;
  SUFFIX_AS_EOS?: boolean;
  SEP?: string;
  STOP_WORDS?: string[];
}

const LLAMA2_SYS =
  '[INST] <<SYS>>\n You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being ' +
  'safe. Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ' +
  'ensure that your responses are socially unbiased and positive in nature.\n{system}\n<</SYS>>\n [/INST] ';
const VICUNA_SYS =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. {system}\n ";
const DEEPSEEK_CODER_SYS =
  'You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by DeepSeekCompany, and you only answer ' +
  'questions related to computer science. For politically sensitive questions, security and privacy issues, and other ' +
  'non-computer science questions, you will refuse to answer. {system}\n';

/** Every PROMPT_TEMPLATE of xtuner, in the order of its file. */
export const PROMPT_TEMPLATES: Readonly<Record<string, PromptTemplate>> = {
  default: { SYSTEM: '<|System|>:{system}\n', INSTRUCTION: '<|User|>:{input}\n<|Bot|>:', SEP: '\n' },
  zephyr: { SYSTEM: '<|system|>\n{system}\n', INSTRUCTION: '<|user|>\n{input}\n<|assistant|>\n', SEP: '\n' },
  internlm_chat: {
    SYSTEM: '<|System|>:{system}\n',
    INSTRUCTION: '<|User|>:{input}<eoh>\n<|Bot|>:',
    SUFFIX: '<eoa>',
    SUFFIX_AS_EOS: true,
    SEP: '\n',
    STOP_WORDS: ['<eoa>'],
  },
  internlm2_chat: {
    SYSTEM: '<|im_start|>system\n{system}<|im_end|>\n',
    INSTRUCTION: '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
    SUFFIX: '<|im_end|>',
    SUFFIX_AS_EOS: true,
    SEP: '\n',
    STOP_WORDS: ['<|im_end|>'],
  },
  moss_sft: {
    SYSTEM: '{system}\n',
    INSTRUCTION: '<|Human|>: {input}<eoh>\n',
    SEP: '\n',
    STOP_WORDS: ['<eoc>', '<eom>'],
  },
  llama2_chat: { SYSTEM: LLAMA2_SYS, INSTRUCTION: '[INST] {input} [/INST]', SEP: '\n' },
  code_llama_chat: { SYSTEM: '{system}\n', INSTRUCTION: '[INST] {input} [/INST]' },
  chatglm2: { SYSTEM: '{system}\n', INSTRUCTION: '[Round {round}]\n\n问：{input}\n\n答：', SEP: '\n\n' },
  chatglm3: { SYSTEM: '<|system|>\n{system}', INSTRUCTION: '<|user|>\n{input}<|assistant|>\n', SEP: '\n' },
  qwen_chat: {
    SYSTEM: '<|im_start|>system\n{system}<|im_end|>\n',
    INSTRUCTION: '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
    SUFFIX: '<|im_end|>',
    SUFFIX_AS_EOS: true,
    SEP: '\n',
    STOP_WORDS: ['<|im_end|>', '<|endoftext|>'],
  },
  baichuan_chat: { SYSTEM: '{system}\n', INSTRUCTION: '<reserved_102>{input}<reserved_103>', SEP: '\n' },
  baichuan2_chat: { SYSTEM: '{system}\n', INSTRUCTION: '<reserved_106>{input}<reserved_107>', SEP: '\n' },
  wizardlm: { SYSTEM: VICUNA_SYS, INSTRUCTION: 'USER: {input} ASSISTANT:', SEP: '\n' },
  wizardcoder: {
    SYSTEM:
      'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n{system}\n ',
    INSTRUCTION: '### Instruction:\n{input}\n\n### Response:',
    SEP: '\n\n',
  },
  vicuna: { SYSTEM: VICUNA_SYS, INSTRUCTION: 'USER: {input} ASSISTANT:', SEP: '\n' },
  deepseek_coder: { SYSTEM: DEEPSEEK_CODER_SYS, INSTRUCTION: '### Instruction:\n{input}\n### Response:\n', SEP: '\n' },
  // xtuner keeps this deprecated alias of deepseek_coder.
  deepseekcoder: { SYSTEM: DEEPSEEK_CODER_SYS, INSTRUCTION: '### Instruction:\n{input}\n### Response:\n', SEP: '\n' },
  deepseek_moe: { SYSTEM: '[INST] {system} [/INST]\n', INSTRUCTION: '[INST] {input} [/INST]', SEP: '\n' },
  deepseek_v2: {
    SYSTEM: '{system}\n\n',
    INSTRUCTION: 'User: {input}\n\nAssistant: ',
    SUFFIX: '<｜end▁of▁sentence｜>',
    SUFFIX_AS_EOS: true,
    STOP_WORDS: ['<｜end▁of▁sentence｜>'],
  },
  mistral: { SYSTEM: '[INST] {system} [/INST]\n', INSTRUCTION: '[INST] {input} [/INST]', SEP: '\n' },
  mixtral: { SYSTEM: '[INST] {system} [/INST]\n', INSTRUCTION: '[INST] {input} [/INST]', SEP: '\n' },
  minicpm: { INSTRUCTION: '<用户> {input} <AI>', SEP: '\n' },
  minicpm3: {
    SYSTEM: '<|im_start|>system\n{system}<|im_end|>\n',
    INSTRUCTION: '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
    SUFFIX: '<|im_end|>',
    SUFFIX_AS_EOS: true,
    SEP: '\n',
    STOP_WORDS: ['<|im_end|>', '<|endoftext|>'],
  },
  gemma: {
    SYSTEM: '<start_of_turn>system\n{system}<end_of_turn>\n',
    INSTRUCTION: '<start_of_turn>user\n{input}<end_of_turn>\n<start_of_turn>model\n',
    SUFFIX: '<end_of_turn>',
    SUFFIX_AS_EOS: false,
    SEP: '\n',
    STOP_WORDS: ['<end_of_turn>'],
  },
  cohere_chat: {
    SYSTEM: '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{system}<|END_OF_TURN_TOKEN|>',
    INSTRUCTION:
      '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{input}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>',
    SUFFIX: '<|END_OF_TURN_TOKEN|>',
    SUFFIX_AS_EOS: true,
    STOP_WORDS: ['<|END_OF_TURN_TOKEN|>'],
  },
  llama3_chat: {
    SYSTEM: '<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>',
    INSTRUCTION:
      '<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    SUFFIX: '<|eot_id|>',
    SUFFIX_AS_EOS: true,
    STOP_WORDS: ['<|eot_id|>'],
  },
  phi3_chat: {
    SYSTEM: '<|system|>\n{system}<|end|>\n',
    INSTRUCTION: '<|user|>\n{input}<|end|>\n<|assistant|>\n',
    SUFFIX: '<|end|>',
    SUFFIX_AS_EOS: true,
    SEP: '\n',
    STOP_WORDS: ['<|end|>'],
  },
};

/** Look a template up by name, with a list of the names when it is unknown. */
export function getTemplate(name: string): PromptTemplate {
  const t = Object.hasOwn(PROMPT_TEMPLATES, name) ? PROMPT_TEMPLATES[name] : undefined;
  if (!t)
    throw new Error(
      `unknown prompt template "${name}"; known: ${Object.keys(PROMPT_TEMPLATES).join(', ')} (or "chat_template" for the tokenizer's own)`,
    );
  return t;
}

/**
 * Python's `str.format` with keyword fields only (`{name}`, `{{`, `}}`), as the templates use it.
 * Only the template is parsed: braces inside the values are left alone, as in Python.
 */
export function pyFormat(template: string, fields: Record<string, string | number>): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    if (name === undefined || !Object.hasOwn(fields, name))
      throw new Error(`template field {${name ?? ''}} has no value (Python raises KeyError)`);
    return String(fields[name]);
  });
}
