import { Controller, Get, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { Project } from './project.entity';

/**
 * GET /projects/:id with its creator, as the reference app loads it (one query joining the creator), on
 * the repository a subclass gives (the plain app's below, or the peer's in bench/peer).
 */
export abstract class ProjectsEndpoints {
  constructor(protected readonly projects: Repository<Project>) {}

  @Get(':id')
  async get(@Param('id', new ParseUUIDPipe({ version: 'all' })) id: string) {
    const p = await this.projects
      .createQueryBuilder('p')
      .leftJoinAndSelect('p.createdBy', 'u')
      .where('p.id = :id', { id: id.toLowerCase() })
      .getOne();
    if (!p) throw new NotFoundException(`Project ${id} not found.`);
    return {
      id: p.id,
      name: p.name,
      description: p.description,
      createdById: p.createdById,
      createdBy: p.createdBy ? { id: p.createdBy.id, name: p.createdBy.name, email: p.createdBy.email } : undefined,
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
  }
}

/** The plain app's projects: one plain repository. */
@Controller('projects')
export class ProjectsController extends ProjectsEndpoints {
  constructor(dataSource: DataSource) {
    super(dataSource.getRepository(Project));
  }
}
