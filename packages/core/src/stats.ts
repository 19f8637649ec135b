import type { DataError } from './errors.ts';
import type { Reason } from './reasons.ts';

/** Per-stage counters: what a stage saw, emitted, and rejected (by reason). */
export class StageStats {
  seen = 0;
  emitted = 0;
  readonly rejected = new Map<Reason, number>();
  /** The first few rejections, kept so a summary can show examples. */
  readonly examples: string[] = [];

  constructor(readonly name: string) {}

  reject(reason: Reason, message?: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    if (message !== undefined && this.examples.length < 5) this.examples.push(message);
  }

  get rejectedTotal(): number {
    let n = 0;
    for (const v of this.rejected.values()) n += v;
    return n;
  }

  toJSON(): { name: string; seen: number; emitted: number; rejected: Record<string, number> } {
    return {
      name: this.name,
      seen: this.seen,
      emitted: this.emitted,
      rejected: Object.fromEntries([...this.rejected].sort()),
    };
  }
}

/** Handed to a stage body: counts and applies the error policy in one place. */
export interface StageContext {
  readonly stats: StageStats;
  /** Record a bad record: throws when the policy is 'fail', else counts it under `err.reason`. */
  fail(err: DataError): void;
  /** Count a record dropped on purpose (a filter), never an error. */
  drop(reason: Reason): void;
}
