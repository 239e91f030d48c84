import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { EncryptedColumn } from '../../libs/tenancy/src';
import { User } from '../users/user.entity';

@Entity('projects')
export class Project {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  /** Stored encrypted with the tenant's data key. */
  @EncryptedColumn({ nullable: true })
  description!: string | null;

  @Column('uuid', { name: 'created_by_id' })
  createdById!: string;

  @ManyToOne(() => User, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'created_by_id' })
  createdBy?: User;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
