// The library as an adopter gets it (issue 10, "A package, not a folder to copy"): built with
// `npm run build:lib`, packed with `npm pack`, unpacked into node_modules/nest-tenancy of a fresh Nest
// app made in a temp folder, next to links to this project's installed copies of the packages the
// tarball declares (its dependencies and peers) and of the app's own: no network. The app is
// TypeScript compiled by the project's tsc against the package's declarations, boots in its own process
// on the test PostgreSQL with one tenant per model and one entity (forFeature), and is asked over HTTP.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import * as publicApi from '../libs/tenancy/src';
import { repoRoot } from './support/repo-root';
import { dropEverything } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';

const ROOT = repoRoot();
const LIB = join(ROOT, 'libs/tenancy');

/** One tenant of each model, each on a tier named after its model. */
const TENANTS = [
  { id: 'pk-shared', model: 'shared' },
  { id: 'pk-schema', model: 'schema' },
  { id: 'pk-database', model: 'database' },
] as const;

/** What the app prints once it listens. */
interface Ready {
  port: number;
  /** For each shared package, the distinct files it resolves to from the app, nest-tenancy and its neighbours. */
  copies: Record<string, string[]>;
  /** typeorm's entry files in require.cache. */
  loadedTypeorm: string[];
}

interface PackedPackage {
  name: string;
  version: string;
  main: string;
  types: string;
  exports: Record<string, { types: string; default: string } | string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
}

/** Runs a command to its end and gives its stdout; rejects with its output when it fails, unless `anyExit`. */
function run(file: string, args: string[], cwd: string, anyExit = false): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(file, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) =>
      err && !anyExit ? fail(new Error(`${file} ${args.join(' ')} failed in ${cwd}: ${err.message}\n${stdout}\n${stderr}`)) : ok(stdout),
    ),
  );
}

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)],
  );
}

/** The package a bare specifier names: `@scope/name/x` → `@scope/name`, `name/x` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The bare specifiers `pattern` finds in the package's files ending with `suffix`. */
function bareImports(pkgDir: string, suffix: string, pattern: RegExp): Set<string> {
  const found = new Set<string>();
  for (const file of filesUnder(join(pkgDir, 'dist')).filter((f) => f.endsWith(suffix))) {
    for (const m of readFileSync(join(pkgDir, 'dist', file), 'utf8').matchAll(pattern)) {
      if (!m[1].startsWith('.')) found.add(m[1]);
    }
  }
  return found;
}

const appSource = (tenants: typeof TENANTS) => `import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { Body, Controller, Get, Injectable, Module, Post } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { Column, Entity, PrimaryColumn, type MigrationInterface, type QueryRunner, type Repository } from 'typeorm';
import {
  createTenantTable,
  InjectTenantRepository,
  TenancyExceptionFilter,
  TenancyModule,
  TenancyService,
  type IsolationModel,
  type TenancyModuleOptions,
} from 'nest-tenancy';

@Entity('notes')
export class Note {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') body!: string;
}

export class CreateNotes1700000000001 implements MigrationInterface {
  name = 'CreateNotes1700000000001';
  async up(q: QueryRunner): Promise<void> {
    await createTenantTable(q, 'notes', { columns: ['body text NOT NULL'] });
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE notes');
  }
}

@Injectable()
export class NotesService {
  constructor(
    @InjectTenantRepository(Note) private readonly notes: Repository<Note>,
    private readonly tenancy: TenancyService,
  ) {}
  create(body: string): Promise<Note> {
    return this.notes.save({ id: randomUUID(), body });
  }
  async list(): Promise<{ tenant: string | undefined; notes: Note[] }> {
    return { tenant: this.tenancy.currentTenantId, notes: await this.notes.find({ order: { body: 'ASC' } }) };
  }
}

@Controller('notes')
export class NotesController {
  constructor(private readonly notes: NotesService) {}
  @Post() create(@Body() dto: { body: string }): Promise<Note> {
    return this.notes.create(dto.body);
  }
  @Get() list(): Promise<{ tenant: string | undefined; notes: Note[] }> {
    return this.notes.list();
  }
}

@Module({ imports: [TenancyModule.forFeature([Note])], controllers: [NotesController], providers: [NotesService] })
export class NotesModule {}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(name + ' is not set');
  return value;
}

const tenants: { id: string; model: IsolationModel }[] = ${JSON.stringify(tenants)};
const options: TenancyModuleOptions = {
  databaseUrl: env('APP_DATABASE_URL'),
  runtimeRole: env('APP_RUNTIME_ROLE'),
  naming: { databasePrefix: env('APP_DATABASE_PREFIX') },
  catalog: {
    tiers: Object.fromEntries(tenants.map((t) => [t.model, { strategy: t.model, pool: { max: 2 } }])),
    tenants: tenants.map((t) => ({ id: t.id, name: t.id, tier: t.model })),
  },
  migrations: [CreateNotes1700000000001],
};

@Module({
  imports: [TenancyModule.forRoot(options), NotesModule],
  providers: [{ provide: APP_FILTER, useClass: TenancyExceptionFilter }],
})
export class AppModule {}

/** Where each package resolves from the app, from nest-tenancy and from the packages that share it. */
function copies(): Record<string, string[]> {
  const lib = dirname(require.resolve('nest-tenancy'));
  const bases = [__dirname, lib, ...['nestjs-cls', '@nestjs/platform-express', 'typeorm'].map((p) => dirname(require.resolve(p)))];
  const ids = ['typeorm', '@nestjs/core', '@nestjs/common', 'nestjs-cls', 'pg', 'rxjs', 'reflect-metadata'];
  return Object.fromEntries(ids.map((id) => [id, [...new Set(bases.map((b) => realpathSync(require.resolve(id, { paths: [b] }))))]]));
}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const loadedTypeorm = Object.keys(require.cache).filter((f) => /[\\\\/]typeorm[\\\\/]index\\.js$/.test(f));
  const ready = { port: app.getHttpServer().address().port, copies: copies(), loadedTypeorm };
  console.log('READY ' + JSON.stringify(ready));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

const APP_TSCONFIG = {
  compilerOptions: {
    module: 'node20',
    moduleResolution: 'node16',
    target: 'ES2022',
    lib: ['ES2023'],
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    outDir: 'dist',
    rootDir: 'src',
    types: ['node'],
  },
  include: ['src'],
};

describe('nest-tenancy packed and installed into a fresh Nest app', () => {
  const suffix = uniqueSuffix();
  const names = { controlDatabase: `nt_${suffix}`, runtimeRole: `nt_app_${suffix}`, databasePrefix: `nt${suffix}_` };
  const temp = mkdtempSync(join(tmpdir(), 'nt-package-'));
  const packDir = join(temp, 'pack');
  const appDir = join(temp, 'app');
  const installed = join(appDir, 'node_modules/nest-tenancy');
  let packed: { filename: string; files: { path: string }[] };
  let pkg: PackedPackage;
  let child: ChildProcess | undefined;
  let childOutput = '';
  let created = false;

  /** Starts the compiled app on its own control database (once; the tests that need it share it). */
  let booting: Promise<Ready> | undefined;
  const boot = () => (booting ??= start());
  async function start(): Promise<Ready> {
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${names.controlDatabase}"`));
    created = true;
    const env = {
      ...process.env,
      APP_DATABASE_URL: urlFor(names.controlDatabase),
      APP_RUNTIME_ROLE: names.runtimeRole,
      APP_DATABASE_PREFIX: names.databasePrefix,
    };
    const app = spawn(process.execPath, ['dist/main.js'], { cwd: appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = app;
    return new Promise((ok, fail) => {
      const onData = (chunk: Buffer) => {
        childOutput += chunk.toString();
        const line = childOutput.split('\n').find((l) => l.startsWith('READY '));
        if (line) ok(JSON.parse(line.slice('READY '.length)));
      };
      app.stdout.on('data', onData);
      app.stderr.on('data', onData);
      app.on('exit', (code) => fail(new Error(`the app exited (${code}) before it listened:\n${childOutput}`)));
    });
  }

  const request = async (tenant: string, method: 'GET' | 'POST', body?: unknown) => {
    const { port } = await boot();
    const res = await fetch(`http://127.0.0.1:${port}/notes`, {
      method,
      headers: { 'X-Tenant-ID': tenant, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    // Parsed here, not by fetch's res.json(): fetch's objects come from outside jest's sandbox,
    // and node:assert's deepStrictEqual compares prototypes.
    return { status: res.status, body: JSON.parse(await res.text()) as any };
  };

  beforeAll(async () => {
    // Build and pack as a maintainer would publish (--ignore-scripts: prepack would build a second time).
    await run('npm', ['run', 'build:lib', '--silent'], ROOT);
    mkdirSync(packDir);
    [packed] = JSON.parse(await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], LIB));

    // The app's node_modules: the unpacked tarball and links to the project's installed packages.
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', join(packDir, packed.filename), '-C', installed, '--strip-components=1'], temp);
    pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    const appOwn = ['@nestjs/platform-express', '@types/node'];
    const linked = [...new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), ...appOwn])];
    const version = (name: string) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    for (const name of linked) {
      mkdirSync(dirname(join(appDir, 'node_modules', name)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), join(appDir, 'node_modules', name), 'dir');
    }
    const appDependencies = [...Object.keys(pkg.peerDependencies), '@nestjs/platform-express'].map((n) => [n, version(n)]);
    writeFileSync(
      join(appDir, 'package.json'),
      JSON.stringify({
        name: 'tenancy-adopter',
        private: true,
        dependencies: { [pkg.name]: pkg.version, ...Object.fromEntries(appDependencies) },
        devDependencies: { '@types/node': version('@types/node') },
      }),
    );
    writeFileSync(join(appDir, 'tsconfig.json'), JSON.stringify(APP_TSCONFIG));
    mkdirSync(join(appDir, 'src'));
    writeFileSync(join(appDir, 'src/main.ts'), appSource(TENANTS));
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', appDir], appDir);
  });

  afterAll(async () => {
    const app = child;
    if (app && app.exitCode === null && app.signalCode === null) {
      const exited = new Promise((ok) => app.once('exit', ok));
      app.kill('SIGTERM');
      const timer = setTimeout(() => app.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (created) await dropEverything(names.controlDatabase, names.databasePrefix, names.runtimeRole);
    rmSync(temp, { recursive: true, force: true });
  });

  it('the tarball holds the build, its declarations, package.json and README: no tests, test support, sources or maps', () => {
    const paths = packed.files.map((f) => f.path);
    for (const path of paths) {
      assert.match(path, /^(package\.json|README\.md|dist\/.+\.(js|d\.ts))$/, `${path} is packed`);
      assert.doesNotMatch(path, /\.(test|spec|test-support)\.|\.map$|tsbuildinfo/, `${path} is packed`);
    }
    const js = paths.filter((p) => p.endsWith('.js'));
    assert.ok(js.length > 50, `${js.length} compiled files`);
    for (const file of js) assert.ok(paths.includes(file.replace(/\.js$/, '.d.ts')), `${file} has no declarations`);
    for (const file of filesUnder(installed)) {
      assert.doesNotMatch(readFileSync(join(installed, file), 'utf8'), /sourceMappingURL/, `${file} points at a source map`);
    }
    // main, types and every target of the exports map are in the tarball.
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)))];
    for (const target of targets) assert.ok(paths.includes(target.replace(/^\.\//, '')), `${target} is not packed`);
    // The README names each peer with its range.
    const readme = readFileSync(join(installed, 'README.md'), 'utf8').replace(/\\\|/g, '|');
    for (const [name, range] of Object.entries(pkg.peerDependencies)) {
      assert.match(readme, new RegExp(`\`${name}\`[^\\n]*\`${range.replace(/[|^.]/g, '\\$&')}\``), `README: ${name} ${range}`);
    }
  });

  it('declares every package its build requires, and npm finds each dependency and peer installed and in range', async () => {
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    const builtin = (s: string) => s.startsWith('node:') || builtinModules.includes(s);
    const required = [...bareImports(installed, '.js', /require\("([^"]+)"\)/g)].filter((s) => !builtin(s)).map(packageOf);
    for (const name of required) assert.ok(declared.has(name), `the build requires ${name}, which package.json does not declare`);
    // The declarations' imports resolve to types a TypeScript app has: declared packages (with their
    // @types declared when they ship none) or Node's own.
    const typed = [...bareImports(installed, '.d.ts', /(?:from '|import\(")([^'"]+)['"]/g)]
      .filter((s) => !s.startsWith('node:'))
      .map(packageOf);
    for (const name of typed) {
      assert.ok(declared.has(name), `the declarations import ${name}, which package.json does not declare`);
      const dir = join(appDir, 'node_modules', name);
      const own = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (!own.types && !own.typings && !existsSync(join(dir, 'index.d.ts')))
        assert.ok(declared.has(`@types/${name}`), `${name} ships no types and @types/${name} is not declared`);
    }
    // npm's own check of the tree (offline): each declared dependency and peer is there and in range.
    // (npm ls exits 1 anyway: it also lists the devDependencies of the linked packages as missing.)
    const tree = JSON.parse(await run('npm', ['ls', '--offline', '--depth=1', '--json'], appDir, true));
    const edges = tree.dependencies[pkg.name].dependencies as Record<
      string,
      { version?: string; missing?: boolean; invalid?: string; problems?: string[] }
    >;
    for (const name of declared) {
      const edge = edges[name];
      assert.ok(edge?.version && !edge.missing && !edge.invalid && !edge.problems, `${name}: ${JSON.stringify(edge)}`);
    }
  });

  it('exports the public API of libs/tenancy/src/index.ts and nothing deeper, to require and to import', async () => {
    const probe = `
      const api = require('nest-tenancy');
      let deep;
      try { require('nest-tenancy/dist/tenancy.module'); deep = 'loaded'; } catch (err) { deep = err.code; }
      const names = (m) => Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort();
      import('nest-tenancy').then((esm) => console.log(JSON.stringify({ cjs: names(api), esm: names(esm), deep })));`;
    const out = JSON.parse(await run(process.execPath, ['-e', probe], appDir));
    // A name exported only as a type has no value (swc, unlike tsc, leaves its key, undefined).
    const expected = Object.keys(publicApi)
      .filter((k) => k !== 'default' && k !== '__esModule' && (publicApi as Record<string, unknown>)[k] !== undefined)
      .sort();
    assert.deepEqual(out.cjs, expected);
    assert.deepEqual(out.esm, expected);
    assert.equal(out.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('the app loads one copy of typeorm, NestJS, nestjs-cls, pg, rxjs and reflect-metadata', async () => {
    const ready = await boot();
    assert.equal(Object.keys(ready.copies).length, 7);
    for (const [id, paths] of Object.entries(ready.copies)) assert.equal(paths.length, 1, `${id} resolves to ${paths.join(', ')}`);
    assert.equal(ready.loadedTypeorm.length, 1, ready.loadedTypeorm.join(', '));
  });

  it("serves a tenant of each model, and no tenant sees another's row", async () => {
    const catalog = await withOwnerClient(names.controlDatabase, (c) =>
      c.query<{ id: string; strategy: string; status: string }>(`SELECT id, strategy, status FROM tenancy.tenants ORDER BY id`),
    );
    assert.deepEqual(
      catalog.rows,
      TENANTS.map((t) => ({ id: t.id, strategy: t.model, status: 'active' })).sort((a, b) => a.id.localeCompare(b.id)),
    );
    const ids: Record<string, string> = {};
    for (const t of TENANTS) {
      const res = await request(t.id, 'POST', { body: `note of ${t.id}` });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.body, `note of ${t.id}`);
      ids[t.id] = res.body.id;
    }
    for (const t of TENANTS) {
      const res = await request(t.id, 'GET');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, { tenant: t.id, notes: [{ id: ids[t.id], body: `note of ${t.id}` }] });
    }
    // The package's errors and filter work in the app: an unknown tenant is a typed 404.
    const unknown = await request('pk-nobody', 'GET');
    assert.deepEqual(unknown, {
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: "Tenant 'pk-nobody' does not exist." },
    });
  });
});
