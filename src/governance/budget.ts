import { BoundedMap } from '../bounded-map';

/**
 * Tokens this worker process has seen a batch use, for its `x_max_tokens` budget. A lower bound
 * of the batch's total (other workers add theirs), so stopping when it reaches the budget is
 * never premature; the batch workflow checks the exact total from progress as the backstop.
 */
export class BudgetMeter {
  private readonly used = new BoundedMap<string, number>(10_000);

  add(batchId: string, tokens: number): number {
    const total = (this.used.get(batchId) ?? 0) + tokens;
    this.used.set(batchId, total);
    return total;
  }

  exhausted(batchId: string, maxTokens: number | null | undefined): boolean {
    return !!maxTokens && (this.used.get(batchId) ?? 0) >= maxTokens;
  }
}

/** One meter per worker process, shared by every chunk it runs. */
export const budgetMeter = new BudgetMeter();
