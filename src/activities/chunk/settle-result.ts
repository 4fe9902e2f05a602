import { newUpstreamRequestId } from '../../ids';
import { ZERO_TOKENS, tokensFromBody, type TokenCounts } from '../../gateway/usage';
import type { RequestOutcome } from '../../gateway/execute-request';
import { isFlagged, type FlagRule } from '../../governance/flag';
import type { OutputChecks } from '../../governance/output-checks';
import type { ResultKind } from '../../records/journal';
import { outcomeTags, type LineGovernance } from '../../records/outcome';
import { resultLine, tryParseJson } from '../../records/result-line';

export interface SettledResult {
  kind: ResultKind;
  tokens: TokenCounts;
  tags: string;
  line: string;
  /** The gateway refused the credentials: the batch must halt. */
  auth: boolean;
}

export interface SettleContext {
  batchId: string;
  flagRule: FlagRule;
  checks: OutputChecks;
}

/**
 * Turns what the gateway answered (after retries) into the request's result: which file, the
 * tokens it used, its governance outcome and the line itself (design §6, the error table).
 */
export function settleResult(
  ctx: SettleContext,
  customIdJson: string,
  requestBody: string,
  outcome: Exclude<RequestOutcome, { kind: 'aborted' }>,
  cached = false,
): SettledResult {
  if (outcome.kind === 'transport_error') {
    const governance: LineGovernance = { outcome: 'errored', attempts: outcome.attempts, cached };
    const line = resultLine(customIdJson, null, { code: outcome.code, message: outcome.message }, governance);
    return { kind: 'e', tokens: ZERO_TOKENS, tags: outcomeTags(governance), line, auth: false };
  }
  const parsed = tryParseJson(outcome.text);
  const answer = {
    status: outcome.status,
    requestId: outcome.requestId ?? newUpstreamRequestId(),
    text: outcome.text,
    parsed,
  };
  if (outcome.statusClass !== 'success') {
    const governance: LineGovernance = {
      outcome: outcome.statusClass === 'blocked' ? 'blocked' : 'errored',
      attempts: outcome.attempts,
      cached,
    };
    const line = resultLine(customIdJson, answer, null, governance);
    return {
      kind: 'e',
      tokens: ZERO_TOKENS,
      tags: outcomeTags(governance),
      line,
      auth: outcome.statusClass === 'auth',
    };
  }
  const flagged = isFlagged(ctx.flagRule, outcome.headers, parsed);
  const verdict = ctx.checks.inspect(requestBody, parsed, flagged);
  const governance: LineGovernance = {
    outcome: verdict.schemaIssues ? 'errored' : flagged ? 'flagged' : 'succeeded',
    attempts: outcome.attempts,
    cached,
    ...(verdict.quality ? { quality: verdict.quality } : {}),
  };
  // A cached answer spent its tokens in the batch that first asked.
  const tokens = cached ? ZERO_TOKENS : tokensFromBody(parsed);
  if (verdict.schemaIssues) {
    const unsupported = verdict.schemaCode === 'schema_unsupported';
    const error = {
      code: unsupported ? 'schema_unsupported' : 'schema_validation_failed',
      message: unsupported
        ? 'The response content could not be checked: the output schema uses a pattern that cannot be matched in linear time.'
        : 'The response content does not match the output schema.',
      issues: verdict.schemaIssues,
    };
    return {
      kind: 'e',
      tokens,
      tags: outcomeTags(governance),
      line: resultLine(customIdJson, answer, error, governance),
      auth: false,
    };
  }
  return {
    kind: 'o',
    tokens,
    tags: outcomeTags(governance),
    line: resultLine(customIdJson, answer, null, governance),
    auth: false,
  };
}
