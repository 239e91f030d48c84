import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { ListQueryDto } from '../../common/list-query.dto';

const normalizeEmail = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CreateUserDto {
  @ApiProperty({ example: 'ada@example.com' })
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'Ada Lovelace' })
  @Transform(trim)
  @IsString()
  @Length(1, 200)
  name!: string;
}

export class UpdateUserDto extends PartialType(CreateUserDto) {}

export class ListUsersQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'matches part of the name (case-insensitive) or the whole email' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;
}

export interface UserView {
  id: string;
  email: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}
