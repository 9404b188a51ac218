//! iCE40 and Xilinx 7-series bitstream formats (no_std)
