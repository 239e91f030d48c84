/**
 * What to print for a thrown value of unknown type: never `undefined`, never an empty string.
 * An Error (or an object with a string `message`) gives its message, else its name, else that of
 * its `cause`; a string gives itself; `undefined`, `null` and anything else get a sentence that
 * says what was thrown, so a log line or a terminal always reads as words.
 * @param err anything a `catch` or a rejection handed over.
 * @returns the message, trimmed (several lines when the message has several).
 */
export function errorMessage(err: unknown): string {
  const own = messageOf(err);
  if (own) return own;
  const cause = typeof err === 'object' && err !== null ? messageOf((err as { cause?: unknown }).cause) : undefined;
  if (cause) return cause;
  if (err instanceof Error) return `${err.name} (no message)`;
  if (err === undefined || err === null) return `an error without a message (${String(err)} was thrown)`;
  return `an error without a message (a ${typeof err} was thrown)`;
}

function messageOf(value: unknown): string | undefined {
  if (typeof value === 'string') return nonEmpty(value);
  if (typeof value !== 'object' || value === null) return undefined;
  const message = (value as { message?: unknown }).message;
  if (typeof message === 'string') return nonEmpty(message);
  if (Array.isArray(message) && message.every((m) => typeof m === 'string')) return nonEmpty(message.join('; '));
  return undefined;
}

function nonEmpty(text: string): string | undefined {
  return text.trim() || undefined;
}
