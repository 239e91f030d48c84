import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** One file of the console, held in memory as served. */
export interface ConsoleAsset {
  /** The file's name, as it appears after `/admin/console/`. */
  name: string;
  body: Buffer;
  /** Its `Content-Type`. */
  type: string;
  /** A strong validator of its bytes (RFC 9110 section 8.8.3): `"<16 hex digits of SHA-256>"`. */
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The operations console's files (the page, its ES modules and style sheet), read once from
 * `assets/` beside this file: `src/admin/console/assets` under jest, its copy in `dist/` (the
 * build copies it) otherwise. Only the files found there at start-up are ever served, by exact
 * name, so no request path reaches the file system.
 */
export class ConsoleAssets {
  private readonly files = new Map<string, ConsoleAsset>();

  constructor(dir: string = join(__dirname, 'assets')) {
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(join(dir, name));
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      this.files.set(name, { name, body, type, etag });
    }
    if (!this.files.has('index.html')) throw new Error(`The operations console's index.html is missing from ${dir}: run the build again.`);
  }

  /** The page itself. */
  get page(): ConsoleAsset {
    return this.files.get('index.html')!;
  }

  /** The named file, or undefined when the console has none of that name. */
  get(name: string): ConsoleAsset | undefined {
    return this.files.get(name);
  }
}
