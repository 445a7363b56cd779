// Who and where this component is, as its deployment says.
import { whoami as wit } from 'ballot:election/deployment@0.1.0';

/** {id, name, role, election, ballotData, host, session} of this instance. */
export const whoami = () => wit();
