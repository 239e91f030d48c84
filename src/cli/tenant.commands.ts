import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, CommandRunner, Option } from 'nest-commander';
import { IsolationModel, TenantExporter, TenantInspector, TenantLifecycle, TenantProvisioner } from '../../libs/tenancy/src';

const bytes = (n: number | null) => (n === null ? '-' : n > 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);

@Command({ name: 'list', description: 'list tenants with model, tier, status, schema version and size' })
export class ListCommand extends CommandRunner {
  constructor(private readonly inspector: TenantInspector) {
    super();
  }

  async run(): Promise<void> {
    const rows = await this.inspector.list();
    console.log(`${'id'.padEnd(40)} ${'model'.padEnd(9)} ${'tier'.padEnd(12)} ${'status'.padEnd(12)} ${'size'.padStart(10)}  version`);
    for (const t of rows) {
      console.log(
        `${t.id.padEnd(40)} ${t.strategy.padEnd(9)} ${(t.tier ?? '-').padEnd(12)} ${t.status.padEnd(12)} ${bytes(t.sizeBytes).padStart(10)}  ${t.version ?? '-'}`,
      );
    }
    console.log(`${rows.length} tenant${rows.length === 1 ? '' : 's'}`);
  }
}

@Command({
  name: 'provision',
  arguments: '<id>',
  description: 'create a tenant (schema or database), apply every migration, record it; safe to re-run',
})
export class ProvisionCommand extends CommandRunner {
  constructor(private readonly provisioner: TenantProvisioner) {
    super();
  }

  async run([id]: string[], options: { name?: string; tier?: string; strategy?: IsolationModel; server?: string }): Promise<void> {
    const started = Date.now();
    const tenant = await this.provisioner.provision({
      id,
      name: options.name ?? id,
      tier: options.tier,
      strategy: options.strategy,
      server: options.server,
    });
    console.log(
      `${tenant.id} ready (${tenant.strategy}${tenant.strategy === 'database' ? ` on ${tenant.server}` : ''}, ${tenant.status}) in ${Date.now() - started} ms`,
    );
  }

  @Option({ flags: '-n, --name <name>', description: 'display name (default: the id)' })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '-t, --tier <tier>', description: 'a tier of the tenants file' })
  parseTier(value: string): string {
    return value;
  }

  @Option({ flags: '-s, --strategy <strategy>', description: 'shared, schema or database (instead of a tier)' })
  parseStrategy(value: string): string {
    return value;
  }

  @Option({ flags: '--server <server>', description: 'database model: a TENANT_DB_SERVERS name' })
  parseServer(value: string): string {
    return value;
  }
}

@Command({ name: 'suspend', arguments: '<id>', description: "refuse the tenant's requests with 403 on every instance" })
export class SuspendCommand extends CommandRunner {
  constructor(private readonly lifecycle: TenantLifecycle) {
    super();
  }

  async run([id]: string[]): Promise<void> {
    await this.lifecycle.suspend(id);
    console.log(`${id} suspended`);
  }
}

@Command({ name: 'resume', arguments: '<id>', description: 'serve a suspended tenant again' })
export class ResumeCommand extends CommandRunner {
  constructor(private readonly lifecycle: TenantLifecycle) {
    super();
  }

  async run([id]: string[]): Promise<void> {
    await this.lifecycle.resume(id);
    console.log(`${id} resumed`);
  }
}

@Command({ name: 'export', arguments: '<id>', description: 'write every row of the tenant as NDJSON (to --out or standard output)' })
export class ExportCommand extends CommandRunner {
  constructor(
    private readonly lifecycle: TenantLifecycle,
    private readonly exporter: TenantExporter,
  ) {
    super();
  }

  async run([id]: string[], options: { out?: string }): Promise<void> {
    const tenant = this.lifecycle.require(id);
    await pipeline(Readable.from(this.exporter.export(tenant)), options.out ? createWriteStream(options.out) : process.stdout);
    if (options.out) console.error(`${id} exported to ${options.out}`);
  }

  @Option({ flags: '-o, --out <file>', description: 'file to write (default: standard output)' })
  parseOut(value: string): string {
    return value;
  }
}

@Command({
  name: 'delete',
  arguments: '<id>',
  description: 'drop every row of the tenant and remove it from the catalog (export first and write nothing since, or --force)',
})
export class DeleteCommand extends CommandRunner {
  constructor(private readonly lifecycle: TenantLifecycle) {
    super();
  }

  async run([id]: string[], options: { force?: boolean }): Promise<void> {
    await this.lifecycle.remove(id, { force: options.force === true });
    console.log(`${id} deleted`);
  }

  @Option({ flags: '-f, --force', description: 'delete even if the tenant was never exported, or written after its last export' })
  parseForce(): boolean {
    return true;
  }
}
