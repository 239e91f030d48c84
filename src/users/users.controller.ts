import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses, ApiTenantRoute } from '../common/api-error-responses';
import { TenantCacheable } from '../../libs/tenancy/src';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { UserDto, UserPageDto } from './dto/user-view.dto';
import { CreateUserDto, ListUsersQueryDto, UpdateUserDto } from './dto/user.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@ApiTenantRoute()
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiCreatedResponse({ type: UserDto, description: 'the user, committed' })
  @ApiErrorResponses(409, 413)
  create(@Body() dto: CreateUserDto) {
    return this.users.create(dto);
  }

  // GET routes' answers are kept in the tenant response cache when RESPONSE_CACHE_TTL_SECONDS is above 0.
  @Get()
  @ApiOkResponse({ type: UserPageDto, description: 'a page of users, oldest first (ids are UUIDv7)' })
  @TenantCacheable({ responseCache: true })
  list(@Query() query: ListUsersQueryDto) {
    return this.users.list(query);
  }

  @Get(':id')
  @ApiOkResponse({ type: UserDto, description: 'the user' })
  @TenantCacheable({ responseCache: true })
  get(@Param('id', UuidParamPipe) id: string) {
    return this.users.get(id);
  }

  @Patch(':id')
  @ApiOkResponse({ type: UserDto, description: 'the user as changed' })
  @ApiErrorResponses(413, 409)
  update(@Param('id', UuidParamPipe) id: string, @Body() dto: UpdateUserDto) {
    return this.users.update(id, dto);
  }

  @Delete(':id')
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiErrorResponses(409)
  @HttpCode(204)
  remove(@Param('id', UuidParamPipe) id: string) {
    return this.users.remove(id);
  }
}
