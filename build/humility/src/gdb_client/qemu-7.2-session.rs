// Where the recorded session read the image id, and what it read
// (`LEASEHOLD_IMAGE_ID` of the default image at recording time).
const RECORDED_ID_AT: u32 = 0x17b58;
const RECORDED_ID: u64 = 0x4986_7fa3_922f_dba4;
