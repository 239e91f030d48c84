import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { EncryptedColumn } from '../../libs/tenancy/src';
import { User } from '../users/user.entity';

@Entity('projects')
export class Project {
  /** The tenant (filled by the database, see User.tenantId). */
  @PrimaryColumn('text', { name: 'tenant_id', default: () => "current_setting('app.tenant_id')", update: false })
  tenantId!: string;

  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  /** Stored encrypted with the tenant's data key. */
  @EncryptedColumn({ nullable: true })
  description!: string | null;

  @Column('uuid', { name: 'created_by_id' })
  createdById!: string;

  /** Joined on (tenant_id, created_by_id), the composite foreign key: co-located on Citus. */
  @ManyToOne(() => User, { createForeignKeyConstraints: false })
  @JoinColumn([
    { name: 'tenant_id', referencedColumnName: 'tenantId' },
    { name: 'created_by_id', referencedColumnName: 'id' },
  ])
  createdBy?: User;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
