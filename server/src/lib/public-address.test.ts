import { describe, expect, it } from 'vitest';
import { isPublicAddress } from './public-address';

describe('isPublicAddress', () => {
  it('accepts public unicast, IPv4 and IPv6', () => {
    for (const a of [
      '8.8.8.8',
      '172.32.0.1',
      '::ffff:8.8.8.8',
      '2606:4700:4700::1111',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ]) {
      expect(isPublicAddress(a), a).toBe(true);
    }
  });

  it('refuses loopback, private, link-local, CGNAT, multicast and reserved, also wrapped in IPv6', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::127.0.0.1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '0:0:0:0:0:ffff:a00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      'fe80::1',
      'fe80::1%eth0',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '2001:db8::1',
      '1::2::3',
      'not-an-address',
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });
});
