// Output and error file lines, as the OpenAI Batch API writes them.

export interface LineResponse {
  status_code: number;
  request_id: string;
  body: unknown;
}

export interface LineError {
  code: string;
  message: string;
}

export interface ResultLine {
  id: string;
  custom_id: string;
  response: LineResponse | null;
  error: LineError | null;
}

export const MISSING_LINE_MESSAGES: Record<string, string> = {
  batch_cancelled: 'This request was not executed because the batch was cancelled.',
  batch_expired: 'This request could not be executed before the completion window expired.',
  batch_failed: 'This request was not executed because the batch failed.',
  budget_exceeded: "This request was not executed because the batch's token budget was used up.",
};
