/**
 * The actions of the demo events, as the stand-in's `GET /event-actions` serves them: one entry per action that
 * demo-events.ts produces. A file of its own so that the stand-in and the event generator both read it without
 * importing each other. The action keys are UNCONFIRMED guesses (reference §7), like the events themselves.
 */
/** The catalogue served by the stand-in's `GET /event-actions`; one entry per action this module produces. */
export const demoEventActions = [
  { id: 'group_created', displayName: 'Created group', groupDisplayName: 'Group management' },
  { id: 'group_deleted', displayName: 'Deleted group', groupDisplayName: 'Group management' },
  { id: 'group_renamed', displayName: 'Renamed group', groupDisplayName: 'Group management' },
  { id: 'user_added_to_group', displayName: 'Added user to group', groupDisplayName: 'Group management' },
  { id: 'user_removed_from_group', displayName: 'Removed user from group', groupDisplayName: 'Group management' },
  {
    id: 'group_product_access_granted',
    displayName: 'Granted product access to group',
    groupDisplayName: 'Group access configuration',
  },
  {
    id: 'group_product_access_revoked',
    displayName: 'Revoked product access from group',
    groupDisplayName: 'Group access configuration',
  },
  { id: 'user_invited', displayName: 'Invited user', groupDisplayName: 'Product access configuration' },
  {
    id: 'third_party_invites_enabled',
    displayName: 'Enabled invitations from third-party accounts',
    groupDisplayName: 'Product access configuration',
  },
  {
    id: 'third_party_invites_disabled',
    displayName: 'Disabled invitations from third-party accounts',
    groupDisplayName: 'Product access configuration',
  },
  { id: 'api_token_created', displayName: 'Created API token', groupDisplayName: 'Product access configuration' },
  { id: 'api_token_revoked', displayName: 'Revoked API token', groupDisplayName: 'Product access configuration' },
  { id: 'user_logged_in_as_user', displayName: 'Logged in as user', groupDisplayName: 'Atlassian accounts' },
  {
    id: 'classification_level_changed',
    displayName: 'Changed classification level',
    groupDisplayName: 'Data classification',
  },
  { id: 'data_export_started', displayName: 'Started data export', groupDisplayName: 'Data export' },
] as const;

export type DemoEventAction = (typeof demoEventActions)[number]['id'];
