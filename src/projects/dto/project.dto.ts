import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, IsUUID, Length, MaxLength, ValidateIf } from 'class-validator';
import { ListQueryDto } from '../../common/list-query.dto';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CreateProjectDto {
  @ApiProperty({ example: 'Apollo' })
  @Transform(trim)
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 2000, example: 'To the moon' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string | null;

  @ApiProperty({ format: 'uuid', description: 'id of a user of this tenant' })
  @IsUUID('all')
  createdById!: string;
}

export class UpdateProjectDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 2000, description: 'null clears it' })
  @ValidateIf((_o, v) => v !== null && v !== undefined)
  @IsString()
  @MaxLength(2000)
  description?: string | null;
}

export class ListProjectsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'only the projects this user created' })
  @IsOptional()
  @IsUUID('all')
  createdById?: string;
}

export interface ProjectView {
  id: string;
  name: string;
  description: string | null;
  createdById: string;
  createdBy?: { id: string; name: string; email: string };
  createdAt: Date;
  updatedAt: Date;
}
