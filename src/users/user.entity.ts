import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { EncryptedColumn } from '../../libs/tenancy/src';

/**
 * A user of one tenant. `tenant_id` is mapped (part of the primary key, as in the table) so that
 * the kit's tenant predicate and the join of a project to its creator name it; feature code never
 * sets it: the database fills it from the transaction's tenant setting, and row-level security
 * filters on it. `email` is stored encrypted with the tenant's data key; `emailIndex` is its blind
 * index, the column lookups by email and the per-tenant uniqueness of emails use.
 */
@Entity('users')
export class User {
  @PrimaryColumn('text', { name: 'tenant_id', default: () => "current_setting('app.tenant_id')", update: false })
  tenantId!: string;

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
