import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { EncryptedColumn } from '../../libs/tenancy/src';

/**
 * A user of one tenant. `tenant_id` is not mapped: the database fills it from the transaction's
 * tenant setting and row-level security filters on it, so feature code never handles it.
 * `email` is stored encrypted with the tenant's data key; `emailIndex` is its blind index, the
 * column lookups by email and the per-tenant uniqueness of emails use.
 */
@Entity('users')
export class User {
  @PrimaryColumn('uuid')
  id!: string;

  @EncryptedColumn({ blindIndex: 'email_index' })
  email!: string;

  @Column('bytea', { name: 'email_index', select: false, nullable: true })
  emailIndex?: Buffer;

  @Column('text')
  name!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
