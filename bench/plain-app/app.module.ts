import { Module } from '@nestjs/common';
import { ClosePlainDataSource, plainDataSource } from './database';
import { ProjectsController } from './projects.controller';
import { UsersController } from './users.controller';

/** The plain single-tenant app of `npm run bench`: two controllers and one DataSource. */
@Module({ controllers: [UsersController, ProjectsController], providers: [plainDataSource, ClosePlainDataSource] })
export class PlainAppModule {}
