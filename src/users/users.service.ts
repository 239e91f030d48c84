import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Repository } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { InjectTenantRepository, pgErrorCode } from '../../libs/tenancy/src';
import { likePattern, decodeCursor, Page, toPage } from '../common/cursor';
import { CreateUserDto, ListUsersQueryDto, UpdateUserDto, UserView } from './dto/user.dto';
import { User } from './user.entity';

export class EmailTakenError extends ConflictException {
  constructor() {
    super('A user with this email already exists in this tenant; use another email or update that user.');
  }
}

export class UserNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`User ${id} not found.`);
  }
}

export class UserHasProjectsError extends ConflictException {
  constructor() {
    super('This user created projects; delete or reassign them first.');
  }
}

/** Feature code: no tenant, no model, no strategy. The repository is already the tenant's. */
@Injectable()
export class UsersService {
  constructor(@InjectTenantRepository(User) private readonly users: Repository<User>) {}

  async create(dto: CreateUserDto): Promise<UserView> {
    const id = uuidv7();
    const result = await this.users
      .createQueryBuilder()
      .insert()
      .values({ id, email: dto.email, name: dto.name })
      .orIgnore()
      .returning('id')
      .execute();
    if (!result.raw?.length) throw new EmailTakenError();
    return this.get(id);
  }

  async get(id: string): Promise<UserView> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new UserNotFoundError(id);
    return view(user);
  }

  async list(query: ListUsersQueryDto): Promise<Page<UserView>> {
    const after = decodeCursor(query.cursor);
    const qb = this.users.createQueryBuilder('u').orderBy('u.id', 'ASC').limit(query.limit + 1);
    if (after) qb.andWhere('u.id > :after', { after });
    if (query.q) qb.andWhere('(u.email ILIKE :q OR u.name ILIKE :q)', { q: likePattern(query.q) });
    return toPage(await qb.getMany(), query.limit, view);
  }

  async update(id: string, dto: UpdateUserDto): Promise<UserView> {
    if (dto.email === undefined && dto.name === undefined) throw new BadRequestException('Give email or name to change.');
    const user = await this.users.findOneBy({ id });
    if (!user) throw new UserNotFoundError(id);
    try {
      await this.users.update({ id }, { email: dto.email, name: dto.name });
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw new EmailTakenError();
      throw err;
    }
    return this.get(id);
  }

  async remove(id: string): Promise<void> {
    try {
      const result = await this.users.delete({ id });
      if (!result.affected) throw new UserNotFoundError(id);
    } catch (err) {
      if (['23503', '23001'].includes(pgErrorCode(err) ?? '')) throw new UserHasProjectsError();
      throw err;
    }
  }
}

function view(u: User): UserView {
  return { id: u.id, email: u.email, name: u.name, createdAt: u.createdAt, updatedAt: u.updatedAt };
}
