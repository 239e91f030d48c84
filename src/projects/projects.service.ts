import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { Repository } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { InjectRepository } from '@nestjs/typeorm';
import { TENANT_CONNECTION } from '../../libs/tenancy/src';
import { sqlState } from '../common/pg-error-code';
import { decodeCursor, Page, toPage } from '../common/cursor';
import { CreateProjectDto, ListProjectsQueryDto, ProjectView, UpdateProjectDto } from './dto/project.dto';
import { Project } from './project.entity';

export class UnknownCreatorError extends BadRequestException {
  constructor(id: string) {
    super(`createdById ${id} is not a user of this tenant; create the user first.`);
  }
}

export class ProjectNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`Project ${id} not found.`);
  }
}

@Injectable()
export class ProjectsService {
  constructor(@InjectRepository(Project, TENANT_CONNECTION) private readonly projects: Repository<Project>) {}

  async create(dto: CreateProjectDto): Promise<ProjectView> {
    const createdById = dto.createdById.toLowerCase();
    const id = uuidv7();
    // The composite foreign key (tenant_id, created_by_id) is the check: a user of another tenant
    // (or of none) is refused by the database, with no extra query.
    try {
      await this.projects.insert({ id, name: dto.name, description: dto.description ?? null, createdById });
    } catch (err) {
      if (sqlState(err) === '23503') throw new UnknownCreatorError(createdById);
      throw err;
    }
    return this.get(id);
  }

  async get(id: string): Promise<ProjectView> {
    // One query: findOne with a relation sends two (a DISTINCT query for the id, then the join),
    // since its LIMIT 1 could cut a to-many join short; a key lookup needs no LIMIT.
    const project = await this.projects.createQueryBuilder('p').leftJoinAndSelect('p.createdBy', 'u').where('p.id = :id', { id }).getOne();
    if (!project) throw new ProjectNotFoundError(id);
    return view(project);
  }

  async list(query: ListProjectsQueryDto): Promise<Page<ProjectView>> {
    const after = decodeCursor(query.cursor);
    const qb = this.projects
      .createQueryBuilder('p')
      .leftJoinAndSelect('p.createdBy', 'u')
      .orderBy('p.id', 'ASC')
      .limit(query.limit + 1);
    if (after) qb.andWhere('p.id > :after', { after });
    if (query.createdById) qb.andWhere('p.created_by_id = :creator', { creator: query.createdById.toLowerCase() });
    return toPage(await qb.getMany(), query.limit, view);
  }

  async update(id: string, dto: UpdateProjectDto): Promise<ProjectView> {
    if (dto.name === undefined && dto.description === undefined) throw new BadRequestException('Give name or description to change.');
    const result = await this.projects.update({ id }, { name: dto.name, description: dto.description });
    if (!result.affected) throw new ProjectNotFoundError(id);
    return this.get(id);
  }

  async remove(id: string): Promise<void> {
    const result = await this.projects.delete({ id });
    if (!result.affected) throw new ProjectNotFoundError(id);
  }
}

function view(p: Project): ProjectView {
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
