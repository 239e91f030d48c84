import { Query } from 'pg';
import { BeginWithQuery, type InnerQuery } from './begin-with-query';
import type { DriverClient } from './connection-gate';

/** pg's client, with the internals a query it runs is given by `client.query` (pg/lib/client.js). */
type PgClient = DriverClient & { binary?: boolean; _types?: unknown };

/**
 * Opens a unit of work's transaction on its connection at the first query, and sends every query of
 * the unit after it. Settings are `settings`: statements run after BEGIN, the last one a SELECT
 * whose last column is the fence flag (see `transactionPreamble`); before it, in Citus mode, the
 * `SET LOCAL`s of `citusPreamble`.
 *
 * - The first query, when it is one statement given as text (and values), travels with `BEGIN` and
 *   the settings in one round trip (`BeginWithQuery`), each as a statement of its own. That is
 *   every query TypeORM builds.
 * - Anything else first (a stream, a callback, a config object, text with a `;` that may hold
 *   several statements): `BEGIN; <settings>` is sent alone and the query only once it succeeded.
 *   With more than one setting statement (Citus mode) they are sent one query each, never as one
 *   multi-statement string: Citus forwards a `SET LOCAL`'s whole query string to the workers, and
 *   a string that holds `BEGIN` would open a nested transaction there.
 *
 * Either way no query of the unit runs outside its transaction or before its settings, and a
 * failure to open (BEGIN or the settings) reaches the first query as the error `failed(err)` throws
 * (it may map it, say to TenantMovingError); later queries then fail inside the aborted transaction.
 */
export class TransactionOpener {
  private opening?: Promise<void>;

  constructor(
    private readonly client: PgClient,
    private readonly settings: readonly string[],
    private readonly onFenced: () => void,
    private readonly failed: (err: unknown) => Promise<never>,
  ) {}

  /** True once anything was sent: the unit must then end with COMMIT or ROLLBACK. */
  get sent(): boolean {
    return this.opening !== undefined;
  }

  /** Sends a query of the unit (`client.query`'s arguments); same result as `client.query`. */
  send(args: unknown[]): unknown {
    if (this.opening) return this.client.query(...args);
    const [text, values, more] = args;
    if (typeof text === 'string' && !text.includes(';') && (values === undefined || Array.isArray(values)) && more === undefined) {
      return this.sendWithBegin(text, values);
    }
    return this.sendAfterBegin(args);
  }

  private sendWithBegin(text: string, values: unknown[] | undefined): Promise<unknown> {
    const inner = new Query({ text, values, queryMode: 'extended' } as never) as unknown as InnerQuery & {
      binary?: boolean;
      _result: { _types?: unknown };
    };
    // What pg's client.query does to a query it is given, done here for the one inside.
    if (this.client.binary) inner.binary = true;
    inner._result._types ??= this.client._types;
    let opened!: () => void;
    let notOpened!: (err: unknown) => void;
    this.opening = new Promise<void>((ok, fail) => ((opened = ok), (notOpened = fail)));
    this.opening.catch(() => undefined);
    return new Promise((resolve, reject) => {
      inner.callback = (err, result) => (err ? reject(err) : resolve(result));
      const combined = new BeginWithQuery(
        this.settings,
        inner,
        (fenced) => {
          if (fenced) this.onFenced();
          opened();
        },
        (err) => {
          notOpened(err);
          this.failed(err).catch(reject);
        },
      );
      this.client.query(combined);
    });
  }

  /** BEGIN and the settings, alone; the rows of the last setting (the SELECT with `fenced`). */
  private async begin(): Promise<{ fenced?: boolean }[] | undefined> {
    type Result = { rows?: { fenced?: boolean }[] };
    if (this.settings.length === 1) {
      const results = (await this.client.query(`BEGIN; ${this.settings[0]}`)) as Result[];
      return results[results.length - 1]?.rows;
    }
    let last: Result | undefined;
    for (const text of ['BEGIN', ...this.settings]) last = (await this.client.query(text)) as Result;
    return last?.rows;
  }

  private sendAfterBegin(args: unknown[]): unknown {
    const opening = (this.opening = this.begin().then(
      (rows) => {
        if (rows?.[0]?.fenced === true) this.onFenced();
      },
      (err: unknown) => this.failed(err),
    ));
    const first = args[0] as { submit?: unknown; destroyed?: boolean; destroy?(err: unknown): void } | undefined;
    const callbackAt = args.findIndex((a, i) => i > 0 && typeof a === 'function');
    if (first && typeof first.submit === 'function') {
      // pg hands a submittable back at once; it is sent once the transaction is open, unless it
      // was destroyed meanwhile (the unit ended: its COMMIT or ROLLBACK may already be queued).
      opening.then(
        () => (first.destroyed ? undefined : this.client.query(...args)),
        (err: unknown) => first.destroy?.(err),
      );
      return first;
    }
    if (callbackAt !== -1) {
      opening.then(
        () => this.client.query(...args),
        (err: unknown) => (args[callbackAt] as (e: unknown) => void)(err),
      );
      return undefined;
    }
    return opening.then(() => this.client.query(...args));
  }
}
