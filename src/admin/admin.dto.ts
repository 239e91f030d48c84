import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsNotEmpty, IsOptional, IsString, Length, Matches } from 'class-validator';
import { ISOLATION_MODELS, IsolationModel, TENANT_ID_PATTERN } from '../../libs/tenancy/src';

export class ProvisionTenantDto {
  @ApiProperty({ example: 'initech' })
  @Matches(TENANT_ID_PATTERN, { message: 'id must be 1 to 40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit' })
  id!: string;

  @ApiProperty({ example: 'Initech' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ example: 'pro' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  tier?: string;

  @ApiPropertyOptional({ enum: ISOLATION_MODELS })
  @IsOptional()
  @IsIn(ISOLATION_MODELS)
  strategy?: IsolationModel;

  @ApiPropertyOptional({ description: 'database model: a TENANT_DB_SERVERS name' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  server?: string;
}

export class MoveTenantDto {
  @ApiProperty({ enum: ISOLATION_MODELS })
  @IsIn(ISOLATION_MODELS)
  strategy!: IsolationModel;

  @ApiPropertyOptional({ description: 'database model: a TENANT_DB_SERVERS name' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  server?: string;

  @ApiPropertyOptional({
    description: 'a tier of the target model the tenant takes with the move (default: it keeps its tier)',
    example: 'pro',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  tier?: string;
}

export class DeleteTenantQueryDto {
  @ApiPropertyOptional({ description: 'delete even if the tenant was never exported, or written after its last export' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  force?: boolean;
}
