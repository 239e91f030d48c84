import { Command, CommandRunner, Option } from 'nest-commander';
import { TenantKeyring, TenantReencryption } from '../../libs/tenancy/src';

@Command({
  name: 'rewrap-keys',
  description: "re-wrap every tenant's data key under the current key-encryption key (the first of TENANCY_KEKS); rows are not touched",
})
export class RewrapKeysCommand extends CommandRunner {
  constructor(private readonly keyring: TenantKeyring) {
    super();
  }

  async run(): Promise<void> {
    const started = Date.now();
    const count = await this.keyring.rewrapAll();
    console.log(
      `${count} data keys re-wrapped under key-encryption key '${this.keyring.currentKekId}' in ${Date.now() - started} ms; none is left under another`,
    );
  }
}

@Command({
  name: 'reencrypt',
  arguments: '<id>',
  description:
    "re-encrypt the tenant's encrypted columns under a new data key version, in batches, while it is served; resumes a stopped run",
})
export class ReencryptCommand extends CommandRunner {
  constructor(private readonly reencryption: TenantReencryption) {
    super();
  }

  async run([id]: string[], options: { batch?: number }): Promise<void> {
    const started = Date.now();
    const report = await this.reencryption.run(id, { batchSize: options.batch });
    console.log(
      `${id}: ${report.values} values under data key v${report.version}${report.resumed ? ' (resumed)' : ''}, ${report.passes} passes, in ${Date.now() - started} ms`,
    );
  }

  @Option({ flags: '-b, --batch <rows>', description: 'rows per transaction (default 500)' })
  parseBatch(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--batch takes a whole number of rows from 1 to 100000.');
    return n;
  }
}
