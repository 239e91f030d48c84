import type { MigrationInterface } from 'typeorm';
import { CreateUsersAndProjects1732752000001 } from './1732752000001-create-users-and-projects';
import { EncryptEmailAndDescription1732752000007 } from './1732752000007-encrypt-email-and-description';

/** The tenant migration set, in order (a feature module's migrations are appended here). */
export const TENANT_MIGRATIONS: (new () => MigrationInterface)[] = [
  CreateUsersAndProjects1732752000001,
  EncryptEmailAndDescription1732752000007,
];
