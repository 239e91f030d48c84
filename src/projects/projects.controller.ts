import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses, ApiTenantRoute } from '../common/api-error-responses';
import { TenantCacheable } from '../../libs/tenancy/src';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ProjectDto, ProjectPageDto } from './dto/project-view.dto';
import { CreateProjectDto, ListProjectsQueryDto, UpdateProjectDto } from './dto/project.dto';
import { ProjectsService } from './projects.service';

@ApiTags('projects')
@ApiTenantRoute()
@Controller('projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @ApiCreatedResponse({ type: ProjectDto, description: 'the project, committed' })
  @ApiErrorResponses(413)
  create(@Body() dto: CreateProjectDto) {
    return this.projects.create(dto);
  }

  // GET routes' answers are kept in the tenant response cache when RESPONSE_CACHE_TTL_SECONDS is above 0.
  @Get()
  @ApiOkResponse({ type: ProjectPageDto, description: 'a page of projects, oldest first (ids are UUIDv7)' })
  @TenantCacheable({ responseCache: true })
  list(@Query() query: ListProjectsQueryDto) {
    return this.projects.list(query);
  }

  // A project changes rarely: the caller's own cache may keep it a few seconds (Vary on the tenant's sources).
  @Get(':id')
  @ApiOkResponse({ type: ProjectDto, description: 'the project' })
  @TenantCacheable({ maxAgeSeconds: 10, responseCache: true })
  get(@Param('id', UuidParamPipe) id: string) {
    return this.projects.get(id);
  }

  @Patch(':id')
  @ApiOkResponse({ type: ProjectDto, description: 'the project as changed' })
  @ApiErrorResponses(413)
  update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateProjectDto) {
    return this.projects.update(id, dto);
  }

  @Delete(':id')
  @ApiNoContentResponse({ description: 'deleted' })
  @HttpCode(204)
  remove(@Param('id', UuidParamPipe) id: string) {
    return this.projects.remove(id);
  }
}
