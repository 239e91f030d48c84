import { Logger } from '@nestjs/common';
import { KeyProvider, LocalKeyProvider } from '../../libs/tenancy/src';

/**
 * The key provider of the service's encrypted columns, from the environment:
 * - `TENANCY_KEKS=<id>:<base64 of 32 bytes>[,<id>:<base64>...]`: the key-encryption keys, the first
 *   one current (see `LocalKeyProvider.fromEnvironment`); required when NODE_ENV is production;
 * - unset outside production: the public development key (id `dev`), with a warning, so
 *   `npm start` works as it is; never for real data;
 * - `TENANCY_ENCRYPTION=off`: no encryption (the columns hold plaintext), for measuring its cost.
 * @throws KeyEncryptionKeyError (at start) when TENANCY_KEKS is missing in production or malformed.
 */
export function keyProviderFromEnv(env: NodeJS.ProcessEnv = process.env): KeyProvider | undefined {
  if (env.TENANCY_ENCRYPTION === 'off') return undefined;
  if (env.TENANCY_KEKS || env.NODE_ENV === 'production') return LocalKeyProvider.fromEnvironment(env, 'TENANCY_KEKS');
  if (env.NODE_ENV !== 'test') {
    new Logger('Encryption').warn(
      "TENANCY_KEKS is not set: tenants' data keys are wrapped with the public development key (id 'dev'). Set TENANCY_KEKS before storing real data; production requires it.",
    );
  }
  return LocalKeyProvider.development();
}
