import type { MigrationInterface } from 'typeorm';
import { CreateUsersAndProjects1732752000001 } from './1732752000001-create-users-and-projects';

/** The tenant migration set, in order (a feature module's migrations are appended here). */
export const TENANT_MIGRATIONS: (new () => MigrationInterface)[] = [CreateUsersAndProjects1732752000001];
