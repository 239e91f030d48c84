/**
 * The parts of pg's wire connection (`pg/lib/connection.js`) that a submittable writes with. Each
 * call writes one frontend message of PostgreSQL's extended query protocol.
 */
export interface WireConnection {
  readonly stream: { cork?(): void; uncork?(): void };
  parse(query: { text: string }): void;
  bind(config: object): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(config: object): void;
}

/** The handlers pg's client calls on the query it is running, one per backend message. */
export interface PgQueryHandlers {
  submit(connection: WireConnection): Error | null | void;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: { fields: (string | null)[] }): void;
  handleCommandComplete(message: unknown, connection: WireConnection): void;
  handleEmptyQuery(connection: WireConnection): void;
  handlePortalSuspended(connection: WireConnection): void;
  handleCopyInResponse(connection: WireConnection): void;
  handleCopyData(message: unknown, connection: WireConnection): void;
  handleError(err: Error, connection: WireConnection): void;
  handleReadyForQuery(connection: WireConnection): void;
}

/** A pg `Query` of the first statement, forced to the extended protocol (see `BeginWithQuery`). */
export type InnerQuery = PgQueryHandlers & { callback?: (err: Error | null, result?: unknown) => void };

/**
 * A pg submittable that opens a unit of work's transaction and runs its first query in ONE round
 * trip and one socket write: `BEGIN`, the tenant settings' SELECT and the query, each as
 * Parse/Bind/Execute, before a single Sync (PostgreSQL docs, "Message Flow", 55.2.3 Extended Query
 * and 55.2.4 Pipelining). PostgreSQL runs them in order; an error skips every later message up to the
 * Sync, so the query runs only inside the transaction, after the settings were applied, or not at all.
 *
 * `settings` are the statements run after `BEGIN`, each as its own Parse/Bind/Execute (so each
 * reaches the server, and Citus, as a query string of its own): any number of statements without
 * rows (Citus mode's `SET LOCAL`s), then one SELECT whose LAST column is a boolean (the preamble's
 * `fenced`); `onSettings` gets that value once the SELECT has run. The query's own results and errors reach `inner` as pg
 * would give them; a failure of BEGIN or the settings reaches `onSettingsFailed` instead, and the
 * query is then never run.
 */
export class BeginWithQuery implements PgQueryHandlers {
  /** Commands completed so far of those that open the transaction (BEGIN, then each of `settings`). */
  private opened = 0;
  /** How many commands open the transaction: BEGIN and the settings. */
  private readonly opening: number;
  private lastColumn?: string | null;

  constructor(
    private readonly settings: readonly string[],
    private readonly inner: InnerQuery & { text?: string },
    private readonly onSettings: (lastColumnIsTrue: boolean) => void,
    private readonly onSettingsFailed: (err: Error) => void,
  ) {
    this.opening = 1 + settings.length;
  }

  /** What is sent, in order (for logs and tests). */
  get statements(): string[] {
    return ['BEGIN', ...this.settings, this.inner.text ?? ''];
  }

  submit(connection: WireConnection): Error | null | void {
    // One write for every message (the inner query corks and uncorks too; corks nest).
    connection.stream.cork?.();
    try {
      connection.parse({ text: 'BEGIN' });
      connection.bind({});
      connection.execute({});
      for (const text of this.settings) {
        connection.parse({ text });
        connection.bind({});
        connection.execute({});
      }
      return this.inner.submit(connection);
    } finally {
      connection.stream.uncork?.();
    }
  }

  handleRowDescription(message: unknown): void {
    this.inner.handleRowDescription(message);
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    // The settings' SELECT (the last) was sent without Describe: its one row arrives as raw text fields.
    if (this.opened === this.opening - 1) this.lastColumn = message.fields[message.fields.length - 1];
    else this.inner.handleDataRow(message);
  }

  handleCommandComplete(message: unknown, connection: WireConnection): void {
    if (this.opened < this.opening - 1) this.opened++;
    else if (this.opened === this.opening - 1) {
      this.opened = this.opening;
      this.onSettings(this.lastColumn === 't');
    } else this.inner.handleCommandComplete(message, connection);
  }

  handleEmptyQuery(connection: WireConnection): void {
    this.inner.handleEmptyQuery(connection);
  }

  handlePortalSuspended(connection: WireConnection): void {
    this.inner.handlePortalSuspended(connection);
  }

  handleCopyInResponse(connection: WireConnection): void {
    this.inner.handleCopyInResponse(connection);
  }

  handleCopyData(message: unknown, connection: WireConnection): void {
    this.inner.handleCopyData(message, connection);
  }

  /** pg calls this once, at the first ErrorResponse (PostgreSQL then skips to the Sync). */
  handleError(err: Error, connection: WireConnection): void {
    if (this.opened < this.opening) this.onSettingsFailed(err);
    else this.inner.handleError(err, connection);
  }

  handleReadyForQuery(connection: WireConnection): void {
    this.inner.handleReadyForQuery(connection);
  }
}
