// `npm install` must be clean: no EBADENGINE (every installed package accepts every Node version
// package.json's engines admits), no peer conflict (each peer dependency met by the installed
// version, or pointed at the app's own copy by an override), and no install script that was not
// reviewed (each package with one is approved or denied in allowScripts). Read from package.json
// and package-lock.json: what `npm ci` installs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { satisfies, subset, validRange } from 'semver';
import { repoRoot } from './support/repo-root';

interface LockPackage {
  name?: string;
  version?: string;
  engines?: { node?: string } | string[];
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  hasInstallScript?: boolean;
  optional?: boolean;
  dev?: boolean;
}

const ROOT = repoRoot();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
  overrides?: Record<string, string | Record<string, string>>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
const installed = Object.entries(lock.packages).filter(([path]) => path !== '');
/** `node_modules/a/node_modules/@b/c` -> `@b/c`. */
const nameOf = (path: string, p: LockPackage) => p.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** The copy of `name` that `path` resolves: its own nested one, else an ancestor's, else the top level. */
function resolveFrom(path: string, name: string): LockPackage | undefined {
  for (let at = path; ;) {
    const found = lock.packages[`${at ? `${at}/` : ''}node_modules/${name}`];
    if (found) return found;
    if (!at) return undefined;
    const cut = at.lastIndexOf('/node_modules/');
    at = cut < 0 ? '' : at.slice(0, cut);
  }
}

describe('npm install is clean', () => {
  it("package.json's engines is a valid range that this Node satisfies", () => {
    assert.ok(validRange(pkg.engines.node), pkg.engines.node);
    assert.ok(satisfies(process.version, pkg.engines.node), `${process.version} is outside engines ${pkg.engines.node}`);
  });

  it('every installed package accepts every Node version engines admits (no EBADENGINE)', () => {
    const narrower = installed.flatMap(([path, p]) => {
      const node = Array.isArray(p.engines) ? undefined : p.engines?.node;
      if (!node || !validRange(node)) return [];
      return subset(pkg.engines.node, node, { includePrerelease: false }) ? [] : [`${path}@${p.version} needs node ${node}`];
    });
    assert.deepEqual(narrower, [], `engines says ${pkg.engines.node}, but:\n${narrower.join('\n')}`);
  });

  it('every peer dependency is met by the version installed, or overridden to the app’s own copy', () => {
    const conflicts = installed.flatMap(([path, p]) =>
      Object.entries(p.peerDependencies ?? {}).flatMap(([peer, range]) => {
        const found = resolveFrom(path, peer);
        if (!found)
          return p.peerDependenciesMeta?.[peer]?.optional ? [] : [`${nameOf(path, p)}@${p.version} wants ${peer} ${range}, none installed`];
        if (satisfies(found.version!, range, { includePrerelease: true })) return [];
        const override = pkg.overrides?.[nameOf(path, p)];
        if (typeof override === 'object' && override[peer] === `$${peer}`) return [];
        return [`${nameOf(path, p)}@${p.version} wants ${peer} ${range}, gets ${found.version}`];
      }),
    );
    assert.deepEqual(conflicts, [], conflicts.join('\n'));
  });

  it('every package with an install script is approved or denied in allowScripts, and @scarf/scarf is denied', () => {
    const allow = pkg.allowScripts ?? {};
    const decided = (name: string, version?: string) => Object.hasOwn(allow, name) || Object.hasOwn(allow, `${name}@${version}`);
    const unreviewed = installed.filter(([path, p]) => p.hasInstallScript && !decided(nameOf(path, p), p.version)).map(([path]) => path);
    assert.deepEqual(unreviewed, [], `install scripts not in allowScripts: ${unreviewed.join(', ')}`);
    assert.equal(allow['@scarf/scarf'], false, 'its postinstall only reports the install to a third party');
    const names = new Set(installed.map(([path, p]) => nameOf(path, p)));
    const stale = Object.keys(allow).filter((k) => !names.has(k.replace(/(.)@[^@]*$/, '$1')));
    assert.deepEqual(stale, [], `allowScripts names packages that are not installed: ${stale.join(', ')}`);
  });
});
