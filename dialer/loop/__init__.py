"""The dial loop of one campaign, in pieces along its own seams: placing, the answer
route, finishing, AMI events and reconciliation, commands, preview, transfer and the
wallboard. `dialer.campaign_dialer.CampaignDialer` holds them together; its tick conducts."""
