import { BadRequestException, PipeTransform } from '@nestjs/common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Accepts any RFC 4122/9562 UUID (ids here are v7) and lower-cases it. */
export class UuidParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw new BadRequestException('id must be a UUID');
    return value.toLowerCase();
  }
}
