/** OpenAI's list envelope: `{object:"list", data, first_id, last_id, has_more}`. */
export function listPage<T extends { id: string }>(data: T[], hasMore: boolean) {
  return {
    object: 'list' as const,
    data,
    first_id: data.length ? data[0].id : null,
    last_id: data.length ? data[data.length - 1].id : null,
    has_more: hasMore,
  };
}
