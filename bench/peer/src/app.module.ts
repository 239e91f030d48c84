import { RLSModule } from '@avallone-io/rls';
import { Controller, Module } from '@nestjs/common';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Project } from '../../plain-app/project.entity';
import { ProjectsEndpoints } from '../../plain-app/projects.controller';
import { User } from '../../plain-app/user.entity';
import { UsersEndpoints } from '../../plain-app/users.controller';
import { tenancyOf } from './tenant';

/** The plain app's users endpoints on the peer's tenant-scoped repository (request-scoped, as RLSModule makes it). */
@Controller('users')
export class PeerUsersController extends UsersEndpoints {
  constructor(@InjectRepository(User) users: Repository<User>) {
    super(users);
  }
}

/** The plain app's projects endpoint on the peer's tenant-scoped repository. */
@Controller('projects')
export class PeerProjectsController extends ProjectsEndpoints {
  constructor(@InjectRepository(Project) projects: Repository<Project>) {
    super(projects);
  }
}

/**
 * The peer app, set up as @avallone-io/rls's README says: TypeORM's module as usual (one pool on
 * DATABASE_URL, the non-owner role peer_app, max PEER_POOL_MAX, default 10 as the other targets),
 * RLSModule.forRoot taking the tenant from the request, RLSModule.forFeature in place of
 * TypeOrmModule.forFeature. The entities are the plain app's: tenant_id is not mapped, the
 * database fills it from `rls.tenant_id` and RLS filters on it.
 */
@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      entities: [User, Project],
      extra: { max: Number(process.env.PEER_POOL_MAX ?? 10) },
      retryAttempts: 0,
    }),
    RLSModule.forRoot([], [], tenancyOf),
    RLSModule.forFeature([User, Project]),
  ],
  controllers: [PeerUsersController, PeerProjectsController],
})
export class PeerAppModule {}
