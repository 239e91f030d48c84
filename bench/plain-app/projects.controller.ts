import { Controller, Get, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { Project } from './project.entity';

/** GET /projects/:id with its creator, as the reference app loads it (one query joining the creator). */
@Controller('projects')
export class ProjectsController {
  private readonly projects: Repository<Project>;

  constructor(dataSource: DataSource) {
    this.projects = dataSource.getRepository(Project);
  }

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
