import { Module } from '@nestjs/common';
import { UsageController } from './usage.controller';

/** Usage, cost and noisy neighbours in the admin API (import it before AdminModule: see UsageController). */
@Module({ controllers: [UsageController] })
export class UsageModule {}
