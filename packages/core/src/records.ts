import type { Provenance } from './errors.ts';

/** A plain text document (pretraining text, or one field of a JSON record). */
export interface TextDoc {
  text: string;
  source: Provenance;
}

/** One message of a conversation; `loss: false` keeps an assistant turn out of the loss (ftdp). */
export interface Message {
  role: string;
  content: string;
  loss?: boolean;
}

/** A chat conversation, as the format mappers give it. */
export interface Conversation {
  messages: Message[];
  source: Provenance;
}

/** A tokenized sample: labels are -100 where there is no loss. */
export interface Sample {
  input_ids: Int32Array;
  labels: Int32Array;
  source?: Provenance;
}

/**
 * A packed sequence of fixed length: `cumulative_len` holds the document boundaries
 * `[0, end of piece 1, ..., L]` (for varlen attention), `position_ids` restart at 0 per piece.
 */
export interface Pack {
  input_ids: Int32Array;
  labels: Int32Array;
  cumulative_len: Int32Array;
  position_ids: Int32Array;
}

/** The label value that means "no loss here" (PyTorch's cross-entropy ignore_index). */
export const IGNORE_INDEX = -100;
