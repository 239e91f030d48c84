import { BadRequestException, Body, ConflictException, Controller, Get, Post, Query } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { CreateUserBody, ListUsersQuery } from './user.dto';
import { User } from './user.entity';

const RETURNED = 'id, email, name, created_at, updated_at';
const CURSOR_ID = /^v1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface UserRow {
  id: string;
  email: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * GET /users and POST /users as the reference app answers them (same queries, same JSON), on the
 * repository a subclass gives: the plain app's (UsersController below) or the peer's tenant-scoped
 * one (bench/peer), so both answer with the same code.
 */
export abstract class UsersEndpoints {
  constructor(protected readonly users: Repository<User>) {}

  @Post()
  async create(@Body() body: CreateUserBody) {
    const result = await this.users
      .createQueryBuilder()
      .insert()
      .values({ id: uuidv7(), email: body.email, name: body.name })
      .orIgnore()
      .returning(RETURNED)
      .execute();
    const row = result.raw?.[0] as UserRow | undefined;
    if (!row) throw new ConflictException('A user with this email already exists; use another email.');
    return { id: row.id, email: row.email, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at };
  }

  @Get()
  async list(@Query() query: ListUsersQuery) {
    const qb = this.users
      .createQueryBuilder('u')
      .orderBy('u.id', 'ASC')
      .limit(query.limit + 1);
    if (query.cursor !== undefined) {
      const text = Buffer.from(query.cursor, 'base64url').toString('utf8');
      if (!CURSOR_ID.test(text)) throw new BadRequestException('cursor is not valid: pass the nextCursor of a previous page unchanged');
      qb.andWhere('u.id > :after', { after: text.slice(3) });
    }
    if (query.q) qb.andWhere('(u.email ILIKE :q OR u.name ILIKE :q)', { q: `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` });
    const rows = await qb.getMany();
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return {
      items: items.map((u) => ({ id: u.id, email: u.email, name: u.name, createdAt: u.createdAt, updatedAt: u.updatedAt })),
      nextCursor: rows.length > query.limit ? Buffer.from(`v1:${last.id}`, 'utf8').toString('base64url') : null,
    };
  }
}

/** The plain app's users: one plain repository, no tenant, no per-request transaction. */
@Controller('users')
export class UsersController extends UsersEndpoints {
  constructor(dataSource: DataSource) {
    super(dataSource.getRepository(User));
  }
}
