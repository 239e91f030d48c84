import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root: found from the compiled file's folder, else from the working directory. */
export function repoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'nest-tenancy-reference' && existsSync(join(dir, 'Dockerfile')))
        return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error('cannot find the nest-tenancy repository root (run the tests from it)');
}
