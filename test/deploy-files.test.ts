// The Dockerfile, docker-compose.yml and .dockerignore, checked by reading them (no Docker engine
// is needed): stages, what is copied and run, the file CMD starts, the user, the ports, and that the
// compose wiring (DATABASE_URL host, ports, health) agrees with both the Dockerfile and the app.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { beforeAll, describe, it } from '@jest/globals';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { validateEnvironment } from '../src/config/app.config';
import { repoRoot } from './support/repo-root';

const ROOT = repoRoot();
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  line: number;
  keyword: string;
  /** The arguments as written, flags included (continuations joined). */
  raw: string;
  /** Flags such as --from=build, --chown=node:node. */
  flags: Record<string, string>;
  /** The arguments without flags; JSON (exec) form parsed. */
  args: string[];
  json: boolean;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { stages: Stage[]; directives: string[] } {
  const lines = text.split('\n');
  const directives: string[] = [];
  const stages: Stage[] = [];
  let i = 0;
  // Parser directives: `# key=value` lines before anything else.
  while (i < lines.length && /^#\s*\w+=/.test(lines[i])) directives.push(lines[i++].replace(/^#\s*/, ''));
  for (; i < lines.length; i++) {
    const start = i + 1;
    let text = lines[i];
    if (!text.trim() || text.trim().startsWith('#')) continue;
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      i++;
      const next = lines[i];
      if (next.trim().startsWith('#')) continue;
      text = text.replace(/\\\s*$/, ' ') + next.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(text);
    assert.ok(m, `Dockerfile line ${start} is not an instruction: ${text}`);
    const keyword = m[1].toUpperCase();
    let rest = m[2].trim();
    const flags: Record<string, string> = {};
    if (keyword !== 'HEALTHCHECK' || !/^(CMD|NONE)\b/.test(rest)) {
      for (let f = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest); f; f = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest)) {
        flags[f[1]] = f[2] ?? 'true';
        rest = rest.slice(f[0].length);
      }
    }
    let args: string[];
    let json = false;
    const jsonPart = keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/, '') : rest;
    if (jsonPart.startsWith('[')) {
      args = JSON.parse(jsonPart);
      json = true;
    } else {
      args = rest.split(/\s+/).filter(Boolean);
    }
    const instruction: Instruction = { line: start, keyword, raw: m[2].trim(), flags, args, json };
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(from, `FROM on line ${start}`);
      stages.push({ image: from[1], name: from[2], instructions: [] });
    } else {
      assert.ok(stages.length, `${keyword} on line ${start} comes before any FROM`);
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return { stages, directives };
}

/** Where a path lands inside the image, given the WORKDIR in force. */
function inImage(workdir: string, path: string): string {
  return posix.normalize(posix.isAbsolute(path) ? path : posix.join(workdir, path)).replace(/\/$/, '');
}

/** The WORKDIR in force before instruction `index` of a stage. */
function workdirAt(stage: Stage, index: number): string {
  let dir = '/';
  for (const ins of stage.instructions.slice(0, index)) if (ins.keyword === 'WORKDIR') dir = inImage(dir, ins.args[0]);
  return dir;
}

// ---------------------------------------------------------------- .dockerignore

function dockerignore(): RegExp[] {
  return read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      assert.ok(!l.startsWith('!'), 'exceptions in .dockerignore are not handled by this check');
      const pattern = l.replace(/^\/+|\/+$/g, '');
      const re = pattern
        .split('**')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*');
      return new RegExp(`^${re}(/.*)?$`);
    });
}

const ignored = (path: string, patterns: RegExp[]) => patterns.some((re) => re.test(path.replace(/^\.\//, '').replace(/\/$/, '')));

// ---------------------------------------------------------------- compose

/** Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string) => {
    const v = env[name];
    const missing = op?.startsWith(':') ? !v : v === undefined;
    if (op?.endsWith('?') && missing) throw new Error(`required variable ${name} is missing: ${arg}`);
    if (op?.endsWith('-') && missing) return arg;
    return v ?? '';
  });
}

function environmentOf(service: any, env: Record<string, string | undefined>): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])
    : Object.entries(raw);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(String(v), env)]));
}

/** The container port of a short-syntax mapping: "3000", "8080:3000", "127.0.0.1:8080:3000/tcp". */
function containerPort(mapping: string | number | { target: number }): number {
  if (typeof mapping === 'object') return Number(mapping.target);
  const parts = String(mapping)
    .replace(/\/(tcp|udp)$/, '')
    .split(':');
  return Number(parts[parts.length - 1]);
}

// ---------------------------------------------------------------- tests

describe('deploy files', () => {
  let stages: Stage[];
  let directives: string[];
  let build: Stage;
  let runtime: Stage;
  let compose: any;
  const composeEnv = { JWT_SECRET: 'x'.repeat(40), TENANCY_KEKS: `k1:${Buffer.alloc(32, 3).toString('base64')}` } as Record<
    string,
    string | undefined
  >;

  beforeAll(() => {
    ({ stages, directives } = parseDockerfile(read('Dockerfile')));
    build = stages[0];
    runtime = stages[stages.length - 1];
    compose = parse(read('docker-compose.yml'));
  });

  describe('Dockerfile', () => {
    it('is multi-stage on node:20-bookworm-slim, the runtime stage last', () => {
      assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
      for (const s of stages) assert.equal(s.image, 'node:20-bookworm-slim');
      assert.equal(build.name, 'build');
      assert.notEqual(runtime, build);
      assert.ok(directives.some((d) => /^syntax=docker\/dockerfile:1/.test(d)));
      // The engines field of package.json accepts the image's Node major.
      assert.match(JSON.parse(read('package.json')).engines.node, /\^20\./);
    });

    it('copies package.json and package-lock.json, then runs npm ci, before copying the sources', () => {
      const ins = build.instructions;
      const lockCopy = ins.findIndex((i) => i.keyword === 'COPY' && !i.flags.from && i.args.slice(0, -1).includes('package-lock.json'));
      const ci = ins.findIndex((i) => i.keyword === 'RUN' && /(^|&&\s*)npm ci\b/.test(i.raw));
      const srcCopy = ins.findIndex(
        (i) => i.keyword === 'COPY' && i.args.slice(0, -1).some((a) => a.replace(/^\.\//, '').replace(/\/$/, '') === 'src'),
      );
      assert.ok(lockCopy >= 0, 'package-lock.json is copied');
      assert.ok(ins[lockCopy].args.slice(0, -1).includes('package.json'));
      assert.ok(ci > lockCopy, 'npm ci runs after the lockfile is copied');
      assert.ok(srcCopy > ci, 'the sources are copied after npm ci, so the dependency layer is cached');
      assert.doesNotMatch(ins[ci].raw, /--omit[= ]dev|--production/, 'the build needs the dev dependencies (typescript)');
    });

    it('builds with npm run build, then prunes the dev dependencies', () => {
      const runs = build.instructions
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.raw)
        .join(' && ');
      const buildAt = runs.search(/npm run build\b/);
      const pruneAt = runs.search(/npm prune\b[^&]*--omit[= ]dev|npm prune\b[^&]*--production/);
      assert.ok(buildAt >= 0, 'npm run build');
      assert.ok(pruneAt > buildAt, 'npm prune --omit=dev after the build');
      const scripts = JSON.parse(read('package.json')).scripts;
      // tsc, then the operations console's page and scripts (not TypeScript) beside its compiled controller.
      assert.equal(scripts.build, 'tsc -p tsconfig.build.json && npm run --silent build:console');
      assert.match(scripts['build:console'], /cpSync\('src\/admin\/console\/assets','dist\/src\/admin\/console\/assets'/);
    });

    it('copies only files that exist and that .dockerignore lets through', () => {
      const patterns = dockerignore();
      for (const s of stages) {
        for (const ins of s.instructions.filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !i.flags.from)) {
          for (const src of ins.args.slice(0, -1)) {
            assert.ok(existsSync(join(ROOT, src)), `line ${ins.line}: ${src} does not exist`);
            assert.ok(!ignored(src, patterns), `line ${ins.line}: ${src} is excluded by .dockerignore`);
          }
        }
      }
      // What the build reads must reach the daemon; what it must not see stays out.
      for (const needed of [
        'package.json',
        'package-lock.json',
        'tsconfig.json',
        'tsconfig.build.json',
        'src/main.ts',
        'libs/tenancy/src/index.ts',
        'config/tenants.yaml',
      ]) {
        assert.ok(!ignored(needed, patterns), `${needed} is excluded by .dockerignore`);
      }
      for (const kept of ['node_modules', 'node_modules/pg/package.json', 'dist/src/main.js', '.data/postgres', '.git/HEAD']) {
        assert.ok(ignored(kept, patterns), `${kept} is sent to the Docker daemon`);
      }
    });

    it('CMD runs the file `npm run build` produces, where the runtime stage puts it', () => {
      const cmds = runtime.instructions.filter((i) => i.keyword === 'CMD');
      assert.equal(cmds.length, 1);
      const cmd = cmds[0];
      assert.ok(cmd.json, 'CMD in exec form, so node is PID 1 and receives SIGTERM');
      assert.equal(cmd.args[0], 'node');
      const script = cmd.args[1];

      // What tsc emits for src/main.ts under tsconfig.build.json (outDir / rootDir, extends resolved).
      const configPath = join(ROOT, 'tsconfig.build.json');
      const config = ts.readConfigFile(configPath, ts.sys.readFile);
      assert.equal(config.error, undefined);
      const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, configPath);
      const main = resolve(ROOT, 'src/main.ts');
      assert.ok(parsed.fileNames.map((f) => resolve(f)).includes(main), 'src/main.ts is compiled by the build');
      assert.ok(
        !parsed.fileNames.some((f) => /\.test\.ts$/.test(f) || /[\\/]test[\\/]/.test(relative(ROOT, f))),
        'no test file is compiled into the image',
      );
      const { outDir, rootDir } = parsed.options;
      assert.ok(outDir && rootDir);
      const emitted = posix
        .join(relative(ROOT, outDir).split('\\').join('/'), relative(rootDir, main).split('\\').join('/'))
        .replace(/\.ts$/, '.js');
      assert.equal(emitted, 'dist/src/main.js');

      // The runtime stage copies the build stage's output folder to where CMD looks for it.
      const buildDir = workdirAt(build, build.instructions.length);
      const runDir = workdirAt(runtime, runtime.instructions.indexOf(cmd));
      const outInBuild = inImage(buildDir, relative(ROOT, outDir));
      const copied = runtime.instructions.find(
        (i) =>
          i.keyword === 'COPY' && i.flags.from === build.name && i.args.slice(0, -1).some((src) => inImage(buildDir, src) === outInBuild),
      );
      assert.ok(copied, `the runtime stage copies ${outInBuild} from the build stage`);
      const landed = inImage(workdirAt(runtime, runtime.instructions.indexOf(copied)), copied.args[copied.args.length - 1]);
      assert.equal(inImage(runDir, script), posix.join(landed, relative(outDir, resolve(ROOT, emitted)).split('\\').join('/')));
      // And `npm start` runs the same file.
      assert.equal(JSON.parse(read('package.json')).scripts.start, `node ${emitted}`);
    });

    it('the runtime stage has node_modules and config/, which the service reads at start', () => {
      const buildDir = workdirAt(build, build.instructions.length);
      const runDir = workdirAt(runtime, runtime.instructions.length);
      const modules = runtime.instructions.find(
        (i) =>
          i.keyword === 'COPY' &&
          i.flags.from === build.name &&
          i.args.slice(0, -1).some((s) => inImage(buildDir, s) === '/app/node_modules'),
      );
      assert.ok(modules, 'node_modules from the build stage (after prune)');
      assert.equal(inImage(runDir, modules.args[modules.args.length - 1]), inImage(runDir, 'node_modules'));
      // The default TENANCY_CONFIG is config/tenants.yaml, relative to the working directory.
      const config = runtime.instructions.find(
        (i) => i.keyword === 'COPY' && !i.flags.from && i.args[0].replace(/^\.\//, '').replace(/\/$/, '') === 'config',
      );
      assert.ok(config, 'config/ is copied');
      assert.equal(inImage(runDir, config.args[config.args.length - 1]), inImage(runDir, 'config'));
      assert.match(read('src/config/app.config.ts'), /process\.env\.TENANCY_CONFIG \?\? 'config\/tenants\.yaml'/);
    });

    it('runs as a user that is not root', () => {
      const users = runtime.instructions.filter((i) => i.keyword === 'USER');
      assert.ok(users.length >= 1, 'USER is set in the runtime stage');
      const last = users[users.length - 1];
      const user = last.args[0].split(':')[0];
      assert.ok(!['root', '0', ''].includes(user), `USER ${user}`);
      const cmdAt = runtime.instructions.findIndex((i) => i.keyword === 'CMD');
      assert.ok(runtime.instructions.indexOf(last) < cmdAt, 'USER comes before CMD');
    });

    it('exposes the port the service listens on, and sets NODE_ENV=production', () => {
      const expose = runtime.instructions
        .filter((i) => i.keyword === 'EXPOSE')
        .flatMap((i) => i.args.map((a) => Number(a.replace(/\/tcp$/, ''))));
      assert.deepEqual(expose, [3000]);
      const env = runtime.instructions
        .filter((i) => i.keyword === 'ENV')
        .map((i) => i.raw)
        .join(' ');
      assert.match(env, /\bPORT=3000\b/);
      assert.match(env, /\bNODE_ENV=production\b/);
      // main.ts listens on PORT, 3000 by default.
      assert.match(read('src/main.ts'), /Number\(process\.env\.PORT \?\? 3000\)/);
    });

    it('has a HEALTHCHECK against /health on that port, with a tool the slim image has', () => {
      const checks = runtime.instructions.filter((i) => i.keyword === 'HEALTHCHECK');
      assert.equal(checks.length, 1);
      const [check] = checks;
      assert.match(check.raw, /^--interval=\S+ .*CMD /s);
      assert.ok(check.json, 'exec form');
      assert.equal(check.args[0], 'node', 'node:*-slim has no curl or wget');
      const script = check.args.join(' ');
      assert.match(script, /\/health['"]/);
      assert.match(script, /process\.env\.PORT \|\| 3000/);
      // The script is valid JavaScript.
      assert.doesNotThrow(() => new Function(check.args[check.args.length - 1]));
      // /health is served without a tenant.
      assert.match(read('src/health/health.controller.ts'), /@Controller\('health'\)[\s\S]*@Get\(\)\s+(?:@Api\w+\(.*\)\s+)*live\(\)/);
      assert.match(read('src/app.module.ts'), /exclude: \[[^\]]*'\/health'/);
    });
  });

  describe('docker-compose.yml', () => {
    it('has a postgres:17 service with a pg_isready healthcheck and a named volume', () => {
      const pg = compose.services.postgres;
      assert.ok(pg, 'a postgres service');
      assert.match(pg.image, /^postgres:17(\.\d+)*(-[a-z0-9]+)?$/);
      const test = Array.isArray(pg.healthcheck.test) ? pg.healthcheck.test.join(' ') : pg.healthcheck.test;
      assert.match(test, /pg_isready\b/);
      assert.ok(pg.healthcheck.interval && pg.healthcheck.retries > 0);
      const volume = (pg.volumes as string[]).find((v) => v.endsWith(':/var/lib/postgresql/data'));
      assert.ok(volume, 'data kept in a volume at the image’s PGDATA');
      const name = volume.split(':')[0];
      assert.ok(name in (compose.volumes ?? {}), `the volume ${name} is declared`);
    });

    it('builds the api service from the Dockerfile', () => {
      const api = compose.services.api;
      assert.ok(api, 'an api service');
      const context = typeof api.build === 'string' ? api.build : api.build.context;
      assert.equal(resolve(ROOT, context), ROOT);
      assert.ok(existsSync(join(ROOT, context, api.build.dockerfile ?? 'Dockerfile')));
    });

    it('points DATABASE_URL at the postgres service with its user, password and database', () => {
      const api = environmentOf(compose.services.api, composeEnv);
      const pgEnv = environmentOf(compose.services.postgres, composeEnv);
      const url = new URL(api.DATABASE_URL);
      assert.match(url.protocol, /^postgres(ql)?:$/);
      assert.equal(url.hostname, 'postgres');
      assert.ok(url.hostname in compose.services, 'the host is a service name');
      assert.equal(Number(url.port || 5432), 5432);
      assert.equal(decodeURIComponent(url.username), pgEnv.POSTGRES_USER ?? 'postgres');
      assert.equal(decodeURIComponent(url.password), pgEnv.POSTGRES_PASSWORD);
      assert.equal(url.pathname, `/${pgEnv.POSTGRES_DB ?? pgEnv.POSTGRES_USER ?? 'postgres'}`);
      // The password is one variable for both services.
      const other = { ...composeEnv, POSTGRES_PASSWORD: 's3cret' };
      assert.equal(new URL(environmentOf(compose.services.api, other).DATABASE_URL).password, 's3cret');
      assert.equal(environmentOf(compose.services.postgres, other).POSTGRES_PASSWORD, 's3cret');
      // The healthcheck asks about that same database.
      const test = [compose.services.postgres.healthcheck.test].flat().join(' ');
      assert.match(test, new RegExp(`-d ${pgEnv.POSTGRES_DB}\\b`));
    });

    it('maps the port the api listens on (PORT, EXPOSE)', () => {
      const api = compose.services.api;
      const env = environmentOf(api, composeEnv);
      const port = Number(env.PORT);
      assert.equal(port, 3000);
      assert.deepEqual(api.ports.map(containerPort), [port]);
      const expose = runtime.instructions
        .filter((i) => i.keyword === 'EXPOSE')
        .flatMap((i) => i.args.map((a) => Number(a.replace(/\/tcp$/, ''))));
      assert.ok(expose.includes(port));
    });

    it('starts the api only once postgres is healthy', () => {
      assert.deepEqual(compose.services.api.depends_on, { postgres: { condition: 'service_healthy' } });
    });

    it('runs in production and requires JWT_SECRET rather than shipping one', () => {
      const raw = compose.services.api.environment;
      assert.equal(raw.NODE_ENV, 'production');
      assert.match(String(raw.JWT_SECRET), /^\$\{JWT_SECRET:\?[^}]+\}$/);
      assert.throws(() => environmentOf(compose.services.api, {}), /required variable JWT_SECRET is missing/);
      assert.equal(environmentOf(compose.services.api, composeEnv).JWT_SECRET, composeEnv.JWT_SECRET);
    });

    it("the README's compose commands give JWT_SECRET a value the service accepts, kept out of git and the image", () => {
      const deploying =
        read('README.md')
          .split(/^## Deploying$/m)[1]
          ?.split(/^## /m)[0] ?? '';
      const block = [...deploying.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => /docker compose up/.test(b));
      assert.ok(block, 'the Deploying section shows the docker compose up command');
      const lines = block.split('\n');
      const up = lines.findIndex((l) => /docker compose up/.test(l));
      // The secret is written to .env before `up` (or given on the command line of `up` itself).
      const setting = lines
        .slice(0, up + 1)
        .map((l) => /JWT_SECRET=\$\(openssl rand -hex (\d+)\)/.exec(l) && { line: l, bytes: Number(/-hex (\d+)/.exec(l)![1]) })
        .find(Boolean);
      assert.ok(setting, `no JWT_SECRET is set before docker compose up:\n${block}`);
      assert.ok(/>\s*\.env\b/.test(setting.line) || /docker compose up/.test(setting.line), setting.line);
      // openssl rand -hex N prints 2N hex digits.
      assert.ok(
        lines.slice(0, up + 1).some((l) => /TENANCY_KEKS=k1:\$\(openssl rand -base64 32\)/.test(l)),
        `no TENANCY_KEKS is set before docker compose up:\n${block}`,
      );
      const env = environmentOf(compose.services.api, { JWT_SECRET: 'ab'.repeat(setting.bytes), TENANCY_KEKS: composeEnv.TENANCY_KEKS });
      assert.doesNotThrow(() => validateEnvironment({ ...env }));
      for (const file of ['.gitignore', '.dockerignore'])
        assert.ok(
          read(file)
            .split('\n')
            .some((l) => l.trim() === '.env'),
          `${file} leaves .env out`,
        );
    });

    it('gives the api an environment the service accepts', () => {
      const env = environmentOf(compose.services.api, composeEnv);
      assert.doesNotThrow(() => validateEnvironment({ ...env }));
      // And the check is real: the same environment without DATABASE_URL is refused.
      const { DATABASE_URL: _, ...without } = env;
      assert.throws(() => validateEnvironment(without), /DATABASE_URL/);
    });
  });
});
