import { Transform, Type } from 'class-transformer';
import { IsEmail, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';

// The reference app's validation rules (src/users/dto/user.dto.ts, src/common/list-query.dto.ts),
// without the OpenAPI decorators: the bench may not import the app's feature code.
const normalizeEmail = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);
const trimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CreateUserBody {
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @Transform(trimmed)
  @IsString()
  @Length(1, 200)
  name!: string;
}

/** `limit` 1..100 (default 20); `after`: the last id of the previous page; `q`: name or email contains. */
export class ListUsersQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  cursor?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;
}
