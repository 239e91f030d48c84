import { BadRequestException, ConflictException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { Repository, ValueTransformer } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { InjectRepository } from '@nestjs/typeorm';
import { blindIndex, TENANT_CONNECTION } from '../../libs/tenancy/src';
import { sqlState } from '../common/pg-error-code';
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
  // Lines logged here carry the request id and the tenant without saying so (see src/observability).
  private readonly logger = new Logger('Users');

  constructor(@InjectRepository(User, TENANT_CONNECTION) private readonly users: Repository<User>) {}

  async create(dto: CreateUserDto): Promise<UserView> {
    const id = uuidv7();
    // A taken email is a conflict on the blind index's unique constraint: no row comes back.
    const result = await this.users
      .createQueryBuilder()
      .insert()
      .values({ id, email: dto.email, emailIndex: blindIndex(User, 'email', dto.email), name: dto.name })
      .orIgnore()
      .returning(RETURNED)
      .execute();
    if (!result.raw?.length) throw new EmailTakenError();
    this.logger.debug(`user ${id} created`);
    return this.fromRow(result.raw[0]);
  }

  async get(id: string): Promise<UserView> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new UserNotFoundError(id);
    return view(user);
  }

  async list(query: ListUsersQueryDto): Promise<Page<UserView>> {
    const after = decodeCursor(query.cursor);
    const qb = this.users
      .createQueryBuilder('u')
      .orderBy('u.id', 'ASC')
      .limit(query.limit + 1);
    if (after) qb.andWhere('u.id > :after', { after });
    // The email is encrypted: it matches whole (through its blind index), the name in part.
    if (query.q)
      qb.andWhere('(u.name ILIKE :q OR u.email_index = :qIndex)', {
        q: likePattern(query.q),
        qIndex: blindIndex(User, 'email', query.q.trim().toLowerCase()),
      });
    return toPage(await qb.getMany(), query.limit, view);
  }

  async update(id: string, dto: UpdateUserDto): Promise<UserView> {
    if (dto.email === undefined && dto.name === undefined) throw new BadRequestException('Give email or name to change.');
    const changes: Partial<User> = {};
    if (dto.email !== undefined) {
      changes.email = dto.email;
      // null is refused by the database (NOT NULL): 400, nothing changed.
      if (dto.email !== null) changes.emailIndex = blindIndex(User, 'email', dto.email);
    }
    if (dto.name !== undefined) changes.name = dto.name;
    let rows: UserRow[];
    try {
      // One round trip: the row as updated (none: not a user of this tenant).
      rows = (await this.users.createQueryBuilder().update().set(changes).where('id = :id', { id }).returning(RETURNED).execute()).raw;
    } catch (err) {
      if (sqlState(err) === '23505') throw new EmailTakenError();
      throw err;
    }
    if (!rows.length) throw new UserNotFoundError(id);
    return this.fromRow(rows[0]);
  }

  /** A row as RETURNING gives it: the email still encrypted, decrypted as the entity's column does. */
  private fromRow(r: UserRow): UserView {
    const column = this.users.metadata.findColumnWithPropertyName('email')!;
    const email = (column.transformer as ValueTransformer).from(r.email) as string;
    return { id: r.id, email, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  async remove(id: string): Promise<void> {
    try {
      const result = await this.users.delete({ id });
      if (!result.affected) throw new UserNotFoundError(id);
    } catch (err) {
      if (['23503', '23001'].includes(sqlState(err) ?? '')) throw new UserHasProjectsError();
      throw err;
    }
  }
}

const RETURNED = 'id, email, name, created_at, updated_at';

interface UserRow {
  id: string;
  email: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

function view(u: User): UserView {
  return { id: u.id, email: u.email, name: u.name, createdAt: u.createdAt, updatedAt: u.updatedAt };
}
