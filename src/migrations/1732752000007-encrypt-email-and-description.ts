import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The user's email and the project's description are stored encrypted with the tenant's data key
 * (`@EncryptedColumn`): their CHECKs on the plaintext go (the API validates it: lower-case email of
 * at most 254 characters, description of at most 2,000), and an email's uniqueness per tenant moves
 * to its keyed blind index, `email_index` (HMAC-SHA-256 under the tenant's index key, filled by the
 * app on every write). Rows written before keep their plaintext until `tenancy reencrypt
 * <tenant>` encrypts them and fills their index; reads return either.
 */
export class EncryptEmailAndDescription1732752000007 implements MigrationInterface {
  name = 'EncryptEmailAndDescription1732752000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_email_check`);
    await q.query(`ALTER TABLE users ADD COLUMN email_index bytea CHECK (octet_length(email_index) = 32)`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_email_key`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_email_index_key UNIQUE (tenant_id, email_index)`);
    await q.query(`ALTER TABLE projects DROP CONSTRAINT projects_description_check`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE projects ADD CONSTRAINT projects_description_check CHECK (length(description) <= 2000) NOT VALID`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_email_index_key`);
    await q.query(`ALTER TABLE users DROP COLUMN email_index`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (tenant_id, email)`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email = lower(email) AND length(email) <= 254) NOT VALID`);
  }
}
