import { CreateUsersAndProjects1732752000001 } from './1732752000001-create-users-and-projects';

/** The tenant migration set, in order. */
export const TENANT_MIGRATIONS = [CreateUsersAndProjects1732752000001];
