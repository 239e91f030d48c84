import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The user who created a project, as a project lists it. */
export class ProjectCreatorDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Ada Lovelace' })
  name!: string;

  @ApiProperty({ example: 'ada@example.com' })
  email!: string;
}

/** A project as the API answers it. */
export class ProjectDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Apollo' })
  name!: string;

  @ApiProperty({ type: String, nullable: true, example: 'To the moon' })
  description!: string | null;

  @ApiProperty({ format: 'uuid', description: 'a user of this tenant' })
  createdById!: string;

  @ApiPropertyOptional({ type: ProjectCreatorDto, description: 'in lists (GET /projects)' })
  createdBy?: ProjectCreatorDto;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;
}

/** A page of projects. */
export class ProjectPageDto {
  @ApiProperty({ type: [ProjectDto] })
  items!: ProjectDto[];

  @ApiProperty({ type: String, nullable: true, description: 'pass as `cursor` for the next page; null on the last page' })
  nextCursor!: string | null;
}
