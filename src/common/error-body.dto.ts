import { ApiProperty } from '@nestjs/swagger';

/** The JSON body of every error answer, documented: `{statusCode, error, message}`, never a stack trace. */
export class ErrorBodyDto {
  @ApiProperty({ example: 404, description: 'the HTTP status, repeated' })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found', description: 'the status text' })
  error!: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'User 0191b3a2-0000-7000-8000-000000000000 not found.',
    description: 'what went wrong and what to do; a list for several invalid fields',
  })
  message!: string | string[];
}
