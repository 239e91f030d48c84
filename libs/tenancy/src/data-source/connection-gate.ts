/** The part of a pg client the gate guards; everything else passes through unchanged. */
export interface DriverClient {
  query(...args: unknown[]): unknown;
}

type Submittable = { submit: unknown; once?(event: string, fn: () => void): unknown; destroy?(): unknown };

/**
 * Stands between a unit of work and its pg client: the only way SQL of the unit reaches the
 * connection. While open, every query goes through and is tracked until it settles; once `close`
 * is called, a query is refused with the error of `refusal()` before anything is sent (the
 * connection may by then belong to another request), and `close` resolves when every query already
 * sent has settled, so the caller may send COMMIT or ROLLBACK and release the connection. Streams
 * (pg `Submittable`s such as pg-query-stream) still open at close are destroyed, since their cursor
 * could not outlive the transaction anyway.
 *
 * `client` is a Proxy of the pg client with `query` guarded; every other property is the client's.
 */
export class ConnectionGate<C extends DriverClient> {
  readonly client: C;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly streams = new Set<Submittable>();

  /**
   * @param send what passes a query on to the connection (default `raw.query`); the unit of work's
   * `TransactionOpener` opens the transaction with the first one.
   */
  constructor(
    readonly raw: C,
    private readonly refusal: () => Error,
    private readonly send: (args: unknown[]) => unknown = (args) => raw.query(...args),
  ) {
    const guardedQuery = (...args: unknown[]) => this.query(args);
    this.client = new Proxy(raw, {
      get: (target, prop) => {
        if (prop === 'query') return guardedQuery;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Refuses new queries from now on; resolves once the queries already sent have settled. */
  async close(): Promise<void> {
    this.closed = true;
    for (const stream of this.streams) stream.destroy?.();
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private query(args: unknown[]): unknown {
    if (this.closed) {
      const err = this.refusal();
      // Callback style gets the error through the callback, like any failed query; others throw.
      const callback = args.find((a, i) => i > 0 && typeof a === 'function') as ((e: Error) => void) | undefined;
      if (callback) {
        process.nextTick(() => callback(err));
        return undefined;
      }
      const first = args[0] as Submittable | undefined;
      if (first && typeof first.submit === 'function') throw err;
      return Promise.reject(err);
    }
    const first = args[0] as Submittable | undefined;
    if (first && typeof first.submit === 'function') return this.submit(first, args);
    const index = args.findIndex((a, i) => i > 0 && typeof a === 'function');
    if (index !== -1) {
      const callback = args[index] as (...r: unknown[]) => void;
      let done!: () => void;
      this.track(new Promise<void>((ok) => (done = ok)));
      args[index] = (...r: unknown[]) => {
        done();
        callback(...r);
      };
      return this.send(args);
    }
    const result = this.send(args) as Promise<unknown>;
    this.track(result);
    return result;
  }

  private submit(submittable: Submittable, args: unknown[]): unknown {
    let done!: () => void;
    const settled = new Promise<void>((ok) => (done = ok));
    const finish = () => {
      this.streams.delete(submittable);
      done();
    };
    if (typeof submittable.once === 'function') {
      for (const event of ['end', 'error', 'close']) submittable.once(event, finish);
      this.streams.add(submittable);
      this.track(settled);
    }
    return this.send(args);
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
  }
}
