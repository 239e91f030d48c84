import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { TenantCacheable } from '../../libs/tenancy/src';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { CreateProjectDto, ListProjectsQueryDto, UpdateProjectDto } from './dto/project.dto';
import { ProjectsService } from './projects.service';

@ApiTags('projects')
@ApiHeader({ name: 'X-Tenant-ID', required: false, description: 'tenant id (or a subdomain, /t/<id>/ prefix or JWT)' })
@Controller('projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  create(@Body() dto: CreateProjectDto) {
    return this.projects.create(dto);
  }

  @Get()
  list(@Query() query: ListProjectsQueryDto) {
    return this.projects.list(query);
  }

  // A project changes rarely: the caller's own cache may keep it a few seconds (Vary on the tenant's sources).
  @Get(':id')
  @TenantCacheable({ maxAgeSeconds: 10 })
  get(@Param('id', UuidParamPipe) id: string) {
    return this.projects.get(id);
  }

  @Patch(':id')
  update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateProjectDto) {
    return this.projects.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id', UuidParamPipe) id: string) {
    return this.projects.remove(id);
  }
}
